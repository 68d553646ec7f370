// Microphone samples -> 16 kHz mono float32, posted to the page in blocks of 0.1 s.
class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / 16000; // input samples per output sample
    this.pos = 0;
    this.out = new Float32Array(1600);
    this.n = 0;
    this.last = 0;
  }
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    // linear interpolation from the device rate (44.1/48 kHz) down to 16 kHz
    while (this.pos < channel.length - 1) {
      const i = Math.floor(this.pos);
      const frac = this.pos - i;
      const a = i < 0 ? this.last : channel[i]; // i is -1 right after a block boundary
      this.out[this.n++] = a * (1 - frac) + channel[i + 1] * frac;
      if (this.n === this.out.length) {
        this.port.postMessage(this.out.slice(0));
        this.n = 0;
      }
      this.pos += this.step;
    }
    this.last = channel[channel.length - 1];
    this.pos -= channel.length;
    return true;
  }
}
registerProcessor("pcm-capture", PcmCapture);
