"""llama.cpp through its C API (the low-level bindings of llama-cpp-python).

The high-level ``Llama`` class decodes one sequence at a time; the batching engine needs the batch
API, one sequence per request in one context, with the KV memory of each sequence removed and
copied on its own. This module is the thin, typed layer over those calls: a loaded model (its
vocabulary, tokenizer and chat template), a context with a unified KV cache for many sequences,
one reusable batch, and a sampler chain per request: the backend of the batching scheduler
(models/batch_backend.py says what it needs).

Loading and tokenizing may run in any thread; decoding, sampling and the memory calls belong to the
engine's one worker thread.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import llama_cpp as L

from models.batch_backend import DecodeError, Sampling
from models.chat import GrammarError

log = logging.getLogger("llama.cpp")

# ggml's log levels (ggml.h): DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5
_LEVELS = {3: logging.WARNING, 4: logging.ERROR}
# in a unified KV cache every sequence may address all cells, so llama.cpp compares the whole
# cache with the trained context; each request is held to context_size by the engine itself
_QUIET = (b"n_ctx_seq",)


@L.llama_log_callback
def _log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    if level in _LEVELS and not any(q in text for q in _QUIET):
        log.log(_LEVELS[level], "%s", text.decode("utf-8", errors="replace").rstrip())


_backend_ready = False


def grammar_sampler(vocab, grammar: str):
    """llama.cpp's sampler for a GBNF grammar; GrammarError when it cannot parse it."""
    sampler = L.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    if not sampler:
        raise GrammarError("llama.cpp cannot parse the grammar")
    return sampler


def check_grammar(vocab, grammar: str) -> None:
    """Raise GrammarError unless llama.cpp can follow the grammar (checked before a request waits)."""
    L.llama_sampler_free(grammar_sampler(vocab, grammar))


class Sampler:
    """One request's sampler chain (penalties, top-k, top-p, min-p, temperature, seeded draw; greedy at 0)."""

    PENALTY_WINDOW = 64

    def __init__(self, s: Sampling, vocab_size: int, vocab=None) -> None:
        """``vocab``: the model's vocabulary, needed for a grammar (structured output)."""
        self.penalised = s.repeat_penalty != 1.0
        chain = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
        if not chain:
            raise MemoryError("llama.cpp could not create a sampler")
        self._chain = chain
        self._penalties = None
        if s.grammar is not None:  # first: what the grammar forbids never reaches the draw
            self._add(grammar_sampler(vocab, s.grammar))
        if self.penalised:
            self._penalties = L.llama_sampler_init_penalties(vocab_size, self.PENALTY_WINDOW, s.repeat_penalty,
                                                             0.0, 0.0)
            self._add(self._penalties)
        if s.temperature <= 0:
            self._add(L.llama_sampler_init_greedy())
        else:
            self._add(L.llama_sampler_init_top_k(40))
            self._add(L.llama_sampler_init_top_p(s.top_p, 1))
            self._add(L.llama_sampler_init_min_p(0.05, 1))
            self._add(L.llama_sampler_init_temp(s.temperature))
            self._add(L.llama_sampler_init_dist(s.seed & 0xFFFFFFFF))

    def _add(self, sampler) -> None:
        L.llama_sampler_chain_add(self._chain, sampler)

    def remember(self, tokens: Sequence[int]) -> None:
        """Feed prompt tokens to the repeat penalty, as if they had been sampled."""
        if self._penalties is None:
            return
        for token in tokens[-self.PENALTY_WINDOW:]:  # the penalties only: a grammar starts at the answer
            L.llama_sampler_accept(self._penalties, token)

    def sample(self, context: LlamaContext, index: int) -> int:
        """The next token from the logits at ``index`` of the context's last batch (accepted into the chain)."""
        return L.llama_sampler_sample(self._chain, context.ctx, index)

    def free(self) -> None:
        if self._chain:
            L.llama_sampler_free(self._chain)
            self._chain = None


class LlamaModel:
    """A GGUF model loaded once: weights, vocabulary, tokenizer, chat template."""

    def __init__(self, path: Path, gpu_layers: int) -> None:
        global _backend_ready
        if not _backend_ready:
            L.llama_log_set(_log, ctypes.c_void_p(0))  # llama.cpp's messages: warnings and errors, into our log
            L.llama_backend_init()
            _backend_ready = True
        params = L.llama_model_default_params()
        params.n_gpu_layers = gpu_layers
        self.model = L.llama_model_load_from_file(str(path).encode(), params)
        if not self.model:
            raise ValueError(f"{path.name}: llama.cpp kann die Datei nicht laden (cannot load the model file).")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.eos = L.llama_vocab_eos(self.vocab)
        self.bos = L.llama_vocab_bos(self.vocab)
        self.add_bos = bool(L.llama_vocab_get_add_bos(self.vocab))
        self.vocab_size = L.llama_vocab_n_tokens(self.vocab)
        self.context_trained = L.llama_model_n_ctx_train(self.model)

    def meta(self, key: str) -> str | None:
        size = L.llama_model_meta_val_str(self.model, key.encode(), None, 0)
        if size < 0:
            return None
        buffer = ctypes.create_string_buffer(size + 1)
        L.llama_model_meta_val_str(self.model, key.encode(), buffer, size + 1)
        return buffer.value.decode("utf-8", errors="replace")

    def token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return (L.llama_vocab_get_text(self.vocab, token) or b"").decode("utf-8", errors="replace")

    def tokenize(self, text: str, add_special: bool) -> list[int]:
        data = text.encode("utf-8")
        room = len(data) + 8
        buffer = (L.llama_token * room)()
        n = L.llama_tokenize(self.vocab, data, len(data), buffer, room, add_special, True)
        if n < 0:  # too small: -n is what it needs
            room = -n
            buffer = (L.llama_token * room)()
            n = L.llama_tokenize(self.vocab, data, len(data), buffer, room, add_special, True)
        return list(buffer[:n])

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for; control tokens are empty."""
        buffer = ctypes.create_string_buffer(64)
        n = L.llama_token_to_piece(self.vocab, token, buffer, 64, 0, False)
        if n < 0:
            buffer = ctypes.create_string_buffer(-n)
            n = L.llama_token_to_piece(self.vocab, token, buffer, -n, 0, False)
        return buffer.raw[:n]

    def is_end(self, token: int) -> bool:
        return bool(L.llama_vocab_is_eog(self.vocab, token))

    def close(self) -> None:
        if self.model:
            L.llama_model_free(self.model)
            self.model = None


class LlamaContext:
    """One context for many sequences: a unified KV cache of ``cells`` tokens that every sequence
    draws from, ``sequences`` sequence ids, and a reusable batch of ``batch_size`` tokens."""

    def __init__(self, model: LlamaModel, *, cells: int, sequences: int, batch_size: int, threads: int) -> None:
        params = L.llama_context_default_params()
        params.n_ctx = cells
        params.n_batch = batch_size
        params.n_ubatch = min(batch_size, 512)
        params.n_seq_max = sequences
        params.kv_unified = True  # shared prefixes are shared cells, and any free cell serves any sequence
        params.n_threads = threads or os.cpu_count() or 1
        params.n_threads_batch = params.n_threads
        params.no_perf = True
        self.ctx = L.llama_init_from_model(model.model, params)
        if not self.ctx:
            raise MemoryError(f"llama.cpp could not create a context of {cells} tokens for {sequences} sequences")
        self.cells = L.llama_n_ctx(self.ctx)
        self.batch_size = batch_size
        self._memory = L.llama_get_memory(self.ctx)
        self._batch = L.llama_batch_init(batch_size, 0, sequences)  # a token may belong to several
        self.size = 0

    # -- the batch --------------------------------------------------------------------------

    def clear(self) -> None:
        self.size = 0

    def add(self, token: int, position: int, sequence: int | Sequence[int], logits: bool) -> int:
        """Add one token, for one sequence or several (a shared prefix read once for all of them);
        answers its index in the batch (where its logits will be)."""
        i = self.size
        b = self._batch
        b.token[i] = token
        b.pos[i] = position
        if isinstance(sequence, int):
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = sequence
        else:
            b.n_seq_id[i] = len(sequence)
            for k, seq in enumerate(sequence):
                b.seq_id[i][k] = seq
        b.logits[i] = logits
        self.size = i + 1
        return i

    def decode(self) -> None:
        self._batch.n_tokens = self.size
        status = L.llama_decode(self.ctx, self._batch)
        if status != 0:
            raise DecodeError(f"llama_decode failed with status {status} for {self.size} tokens")

    # -- the KV memory of sequences -----------------------------------------------------------

    def forget(self, sequence: int, start: int = -1) -> None:
        """Remove a sequence's cells from ``start`` on (all of them with -1)."""
        L.llama_memory_seq_rm(self._memory, sequence, start, -1)

    def share(self, source: int, target: int, length: int) -> None:
        """Positions [0, length) of ``source`` also belong to ``target`` (no copy: the cells are shared)."""
        L.llama_memory_seq_cp(self._memory, source, target, 0, length)

    def reset(self) -> None:
        L.llama_memory_clear(self._memory, True)

    def close(self) -> None:
        if self.ctx:
            L.llama_batch_free(self._batch)
            L.llama_free(self.ctx)
            self.ctx = None
