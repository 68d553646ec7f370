"""The live interpreter over the fakes: streaming policy, the WebSocket protocol and its bad inputs."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from appliance.server import create_app
from models.fake_speech import FakeTranscriber
from models.live import StreamingSession
from tests.support.settings import make_settings
from tests.support.speech import pcm16, silence, tone

FRAME = 1600  # 0.1 s, as the page sends it


# -- the streaming policy ----------------------------------------------------------------------


def test_committed_text_only_grows_and_sentences_come_once() -> None:
    session = StreamingSession(FakeTranscriber(), language="de")
    audio = tone(5.0)
    committed, sentences = "", []
    for start in range(0, audio.size, 8000):
        session.feed(audio[start:start + 8000])
        if session.ready():
            update = session.update()
            assert update.committed.startswith(committed)  # what is committed never changes
            committed = update.committed
            sentences += update.final
    update = session.finish()
    sentences += update.final
    # words are committed as heard when two hypotheses agreed ("Fünf" began a full sentence then)
    assert update.committed == "Eins zwei drei vier. Fünf sechs sieben acht. neun zehn"
    assert update.tentative == ""
    assert sentences == ["Eins zwei drei vier.", "Fünf sechs sieben acht.", "neun zehn"]


def test_sentences_become_final_while_speaking() -> None:
    session = StreamingSession(FakeTranscriber(), language="de")
    final: list[str] = []
    for _ in range(8):
        session.feed(tone(0.5))
        final += session.update().final
    assert [s.casefold() for s in final] == ["eins zwei drei vier."]  # before the speaker let go


def test_silence_commits_nothing_and_long_turns_stay_short_in_memory() -> None:
    session = StreamingSession(FakeTranscriber())
    session.feed(silence(2.0))
    assert session.update().committed == "" and session.finish().committed == ""

    session = StreamingSession(FakeTranscriber())
    for _ in range(60):  # 30 s in one turn
        session.feed(tone(0.5))
        session.update()
    assert session._audio.size < 20 * 16_000  # finished segments were dropped from the buffer
    assert len(session.finish().committed.split()) >= 40


def test_hypotheses_that_split_words_differently_do_not_repeat_them() -> None:
    class Changing(FakeTranscriber):
        script = ("Haben Sie die", "Haben Sie die Unterlagen vom", "Haben Sie die Unterlagen vom Jobcenter",
                  "Haben Sie die Unterlagen vom Job Center dabei", "Haben Sie die Unterlagen vom Job Center dabei?")

        def transcribe(self, audio, **kwargs):
            from models.speech import Transcript

            text = self.script[min(self.calls, len(self.script) - 1)]
            self.calls += 1
            return Transcript(text=text, language="de", duration=audio.size / 16_000)

    session = StreamingSession(Changing(), language="de")
    for _ in range(4):
        session.feed(tone(1.0))
        session.update()
    assert session.finish().committed == "Haben Sie die Unterlagen vom Job Center dabei?"


# -- the WebSocket -----------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path, fake_engines):
    def build(**speech: object) -> tuple[TestClient, dict]:
        settings = make_settings(tmp_path / "data")
        for key, value in speech.items():
            setattr(settings.speech, key, value)
        app = create_app(settings, engines=fake_engines, mount_ui=False)
        app.state.services.accounts.add("berater", "staff", "geheim123")
        key, _ = app.state.services.accounts.create_key("berater")
        return TestClient(app), {"Authorization": f"Bearer {key}"}

    return build


def until(ws, kind: str, limit: int = 200) -> list[dict]:
    seen = []
    for _ in range(limit):
        message = ws.receive_json()
        seen.append(message)
        if message["type"] == kind:
            return seen
    raise AssertionError(f"no {kind} in {seen}")


def talk(ws, speaker: str, audio) -> None:
    ws.send_text(json.dumps({"type": "start", "speaker": speaker}))
    data = pcm16(audio)
    for start in range(0, len(data), 2 * FRAME):
        ws.send_bytes(data[start:start + 2 * FRAME])
    ws.send_text(json.dumps({"type": "stop"}))


def test_a_turn_is_transcribed_and_each_sentence_translated(site) -> None:
    client, auth = site()
    with client, client.websocket_connect("/api/interpret", headers=auth) as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_text(json.dumps({"type": "languages", "languages": ["de", "uk"]}))
        assert ws.receive_json() == {"type": "languages", "languages": ["de", "uk"]}
        talk(ws, "a", tone(3.0))
        seen = until(ws, "done")
    kinds = [m["type"] for m in seen]
    assert kinds[0] == "started" and kinds[-1] == "done"
    final = next(m for m in seen if m["type"] == "final")
    # (the fake capitalises a sentence once it is complete; when words were committed decides the case)
    assert final["committed"].casefold() == "eins zwei drei vier. fünf sechs" and final["speaker"] == "a"
    translations = [m for m in seen if m["type"] == "translation"]
    assert [(m["n"], m["source"].casefold(), m["language"]) for m in translations] == [
        (1, "eins zwei drei vier.", "uk"), (2, "fünf sechs", "uk")]
    assert translations[0]["text"] == f"Echo: {translations[0]['source']}"  # the fake chat model echoes


def test_the_other_side_is_translated_the_other_way(site) -> None:
    client, auth = site()
    with client, client.websocket_connect("/api/interpret", headers=auth) as ws:
        ws.receive_json()
        ws.send_text(json.dumps({"type": "languages", "languages": ["de", "ar"]}))
        ws.receive_json()
        talk(ws, "b", tone(1.0))
        seen = until(ws, "done")
    final = next(m for m in seen if m["type"] == "final")
    translation = next(m for m in seen if m["type"] == "translation")
    assert final["language"] == "ar" and translation["language"] == "de" and translation["speaker"] == "b"


def test_garbage_gets_an_error_and_the_conversation_goes_on(site) -> None:
    client, auth = site()
    with client, client.websocket_connect("/api/interpret", headers=auth) as ws:
        ws.receive_json()
        ws.send_bytes(pcm16(tone(0.2)))  # audio before the talk button
        assert ws.receive_json()["code"] == "not_recording"
        for bad in ("kein json", json.dumps([1, 2]), json.dumps({"type": "tanzen"}),
                    json.dumps({"type": "start", "speaker": "c"}),
                    json.dumps({"type": "languages", "languages": ["de", "de"]}),
                    json.dumps({"type": "languages", "languages": ["de", "xx"]})):
            ws.send_text(bad)
            message = ws.receive_json()
            assert message["type"] == "error" and message["code"] == "bad_message" and message["message"]
        talk(ws, "a", tone(0.5))
        seen = until(ws, "done")
        assert next(m for m in seen if m["type"] == "final")["committed"] == "eins"


def test_a_flood_of_garbage_closes_the_connection(site) -> None:
    client, auth = site()
    with client, client.websocket_connect("/api/interpret", headers=auth) as ws:
        ws.receive_json()
        for _ in range(20):
            ws.send_text("{")
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_json()
        assert closed.value.code == 1008


def test_sign_in_is_required(site) -> None:
    client, _ = site()
    with client, pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/api/interpret"):
        pass
    assert closed.value.code == 1008


def test_another_site_cannot_open_it_with_the_cookie(site) -> None:
    client, auth = site()
    with client, pytest.raises(WebSocketDisconnect) as closed, \
            client.websocket_connect("/api/interpret", headers={**auth, "Origin": "http://evil.example"}):
        pass
    assert closed.value.code == 1008
    with client, client.websocket_connect("/api/interpret", headers={**auth, "Origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "ready"  # the box's own page


def test_one_interpreter_more_than_allowed_is_told_to_wait(site) -> None:
    client, auth = site(max_interpreters=1)
    with client, client.websocket_connect("/api/interpret", headers=auth) as first:
        assert first.receive_json()["type"] == "ready"
        with client.websocket_connect("/api/interpret", headers=auth) as second:
            message = second.receive_json()
            assert message["code"] == "busy" and "1 Übersetzungen" in message["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                second.receive_json()
            assert closed.value.code == 1013
        talk(first, "a", tone(0.5))  # the first conversation is untouched
        assert next(m for m in until(first, "done") if m["type"] == "final")["committed"] == "eins"
    # once the first has ended, there is room again
    with client, client.websocket_connect("/api/interpret", headers=auth) as again:
        assert again.receive_json()["type"] == "ready"


def test_one_person_cannot_hold_every_place(site, tmp_path) -> None:
    client, auth = site(max_interpreters=2)  # one place each by default (speech.max_interpreters_per_person)
    accounts = client.app.state.services.accounts
    accounts.add("kollegin", "staff", "geheim123")
    other = {"Authorization": f"Bearer {accounts.create_key('kollegin')[0]}"}
    with client, client.websocket_connect("/api/interpret", headers=auth) as first:
        assert first.receive_json()["type"] == "ready"
        with client.websocket_connect("/api/interpret", headers=auth) as second:
            message = second.receive_json()
            assert message["code"] == "busy" and "Sie haben schon 1" in message["message"]
        with client.websocket_connect("/api/interpret", headers=other) as colleague:  # the second place is hers
            assert colleague.receive_json()["type"] == "ready"


def test_a_turn_longer_than_the_limit_is_ended(site) -> None:
    client, auth = site(max_utterance_s=5)
    with client, client.websocket_connect("/api/interpret", headers=auth) as ws:
        ws.receive_json()
        ws.send_text(json.dumps({"type": "start", "speaker": "a"}))
        data = pcm16(tone(6.0))
        for start in range(0, len(data), 2 * FRAME):
            ws.send_bytes(data[start:start + 2 * FRAME])
        seen = until(ws, "done")
        if not any(m["type"] == "error" for m in seen):
            seen += until(ws, "error")
    notice = next(m for m in seen if m["type"] == "notice")
    assert notice["code"] == "turn_limit" and "5 Sekunden" in notice["message"]
    assert next(m for m in seen if m["type"] == "error")["code"] == "not_recording"  # the second after it


def test_oversized_frames_are_refused(site) -> None:
    client, auth = site()
    with client, client.websocket_connect("/api/interpret", headers=auth) as ws:
        ws.receive_json()
        ws.send_text(json.dumps({"type": "start", "speaker": "a"}))
        assert ws.receive_json()["type"] == "started"
        ws.send_bytes(b"\0" * 100_000)
        assert until(ws, "error")[-1]["code"] == "bad_message"


def test_leaving_mid_sentence_frees_the_place(site) -> None:
    client, auth = site(max_interpreters=1)
    with client:
        with client.websocket_connect("/api/interpret", headers=auth) as ws:
            ws.receive_json()
            ws.send_text(json.dumps({"type": "start", "speaker": "a"}))
            ws.send_bytes(pcm16(tone(1.0)))
        # the client went away without "stop"; the next conversation gets the place
        with client.websocket_connect("/api/interpret", headers=auth) as ws:
            assert ws.receive_json()["type"] == "ready"


async def test_turns_waiting_to_be_written_out_are_bounded() -> None:
    """Each ended turn holds its audio until it is transcribed: a client that keeps pressing start and
    stop faster than the model writes gets told to wait instead of filling the memory."""
    from appliance.speech.interpreter import MAX_WAITING_TURNS, Conversation

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    conversation = Conversation(FakeTranscriber(), chat=None, send=send)  # not run: nothing is written out
    for _ in range(MAX_WAITING_TURNS + 3):
        assert await conversation.control({"type": "start", "speaker": "a"})
        await conversation.audio(pcm16(tone(0.2)))
        assert await conversation.control({"type": "stop"})
    assert len(conversation._queue) == MAX_WAITING_TURNS
    assert sum(m.get("code") == "turns_waiting" for m in sent) == 3
    assert sum(m["type"] == "started" for m in sent) == MAX_WAITING_TURNS
