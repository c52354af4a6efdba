"""Tokenizers read from a model file's `tokenizer` section (models/tokenizer/*.ts).

- {"kind": "byte"}: one token per UTF-8 byte; ids 256..259 are <pad> <bos> <eos> <sep>.
- {"kind": "bpe", "merges": [[a, b], ...]}: byte-level BPE; merge r makes token 260 + r. Text is
  split into words as models/tokenizer/bpe.ts does with the JavaScript regex
      '(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
  (re-implemented by hand below: Python's `re` has no \\p{L}); a word's bytes are merged by lowest
  rank first, every occurrence left to right, and merges never cross words.
Letters and numbers are Unicode categories L* and N* (unicodedata); whitespace is JavaScript's \\s.
Offsets here are code-point offsets (the app's are UTF-16): training needs ids only.
"""
from __future__ import annotations

import unicodedata
from typing import Dict, List, Sequence, Tuple

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<sep>")
BYTE_VOCAB = 256
FIRST_MERGE_ID = BYTE_VOCAB + len(SPECIAL_TOKENS)

# JavaScript's \s: WhiteSpace and LineTerminator of ECMAScript
_JS_SPACE = set("\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") | {chr(c) for c in range(0x2000, 0x200B)}


def _is_space(ch: str) -> bool:
    return ch in _JS_SPACE


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "L"


def _is_number(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "N"


def _is_other(ch: str) -> bool:
    return not (_is_space(ch) or _is_letter(ch) or _is_number(ch))


def _match(text: str, i: int) -> int:
    """end of the regex's match at i (the alternatives in order; ' ?' tries the space first)"""
    n = len(text)
    ch = text[i]
    if ch == "'" and i + 1 < n:  # '(?:[sdmt]|ll|ve|re)
        if text[i + 1] in "sdmt":
            return i + 2
        if text[i + 1: i + 3] in ("ll", "ve", "re"):
            return i + 3
    leads = (1, 0) if ch == " " else (0,)
    for lead in leads:  # ' ?\p{L}+'
        k = i + lead
        if k < n and _is_letter(text[k]):
            while k < n and _is_letter(text[k]):
                k += 1
            return k
    for lead in leads:  # ' ?\p{N}{1,3}'
        k = i + lead
        if k < n and _is_number(text[k]):
            e = k
            while e < n and e < k + 3 and _is_number(text[e]):
                e += 1
            return e
    for lead in leads:  # ' ?[^\s\p{L}\p{N}]+'
        k = i + lead
        if k < n and _is_other(text[k]):
            while k < n and _is_other(text[k]):
                k += 1
            return k
    if _is_space(ch):
        j = i
        while j < n and _is_space(text[j]):
            j += 1
        if j == n:  # '\s+(?!\S)' at the end of the text
            return j
        if j - 1 > i:  # '\s+(?!\S)' backtracks one space so that a space follows
            return j - 1
        return j  # '\s+'
    return i + 1


def split_words(text: str) -> List[Tuple[str, int]]:
    """the words of bpe.ts splitWords, with their (code point) start"""
    out: List[Tuple[str, int]] = []
    i = 0
    while i < len(text):
        j = _match(text, i)
        out.append((text[i:j], i))
        i = j
    return out


class ByteTokenizer:
    spec = {"kind": "byte"}
    vocab_size = FIRST_MERGE_ID

    def encode(self, text: str) -> List[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(i for i in ids if 0 <= i < 256).decode("utf-8", errors="replace")

    def bytes_of(self, i: int) -> bytes:
        return bytes([i]) if 0 <= i < 256 else b""

    def special(self, token: str) -> int:
        return BYTE_VOCAB + SPECIAL_TOKENS.index(token)


class BpeTokenizer(ByteTokenizer):
    def __init__(self, merges: Sequence[Sequence[int]]):
        self.merges = [(int(a), int(b)) for a, b in merges]
        self.spec = {"kind": "bpe", "merges": [list(m) for m in self.merges]}
        self.vocab_size = FIRST_MERGE_ID + len(self.merges)
        self.ranks: Dict[Tuple[int, int], int] = {}
        self.token_bytes: List[bytes] = [bytes([i]) for i in range(256)] + [b""] * len(SPECIAL_TOKENS)
        for rank, (a, b) in enumerate(self.merges):
            if a >= FIRST_MERGE_ID + rank or b >= FIRST_MERGE_ID + rank or 256 <= a < FIRST_MERGE_ID or 256 <= b < FIRST_MERGE_ID:
                raise ValueError(f"BPE merge {rank} refers to an unknown token")
            self.ranks[(a, b)] = rank
            self.token_bytes.append(self.token_bytes[a] + self.token_bytes[b])
        self.cache: Dict[str, List[int]] = {}

    def encode_word(self, word: str) -> List[int]:
        hit = self.cache.get(word)
        if hit is not None:
            return hit
        parts = list(word.encode("utf-8"))
        ranks = self.ranks
        while len(parts) > 1:
            best, best_rank = -1, None
            for i in range(len(parts) - 1):
                r = ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best < 0:
                break
            a, b, new = parts[best], parts[best + 1], FIRST_MERGE_ID + best_rank
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                    merged.append(new)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        if len(self.cache) < 100_000:
            self.cache[word] = parts
        return parts

    def encode(self, text: str) -> List[int]:
        ids: List[int] = []
        for w, _ in split_words(text):
            ids.extend(self.encode_word(w))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return b"".join(self.bytes_of(i) for i in ids).decode("utf-8", errors="replace")

    def bytes_of(self, i: int) -> bytes:
        return self.token_bytes[i] if 0 <= i < len(self.token_bytes) else b""


def tokenizer_from_spec(spec) -> ByteTokenizer:
    if spec is None or spec.get("kind") == "byte":
        return ByteTokenizer()
    if spec.get("kind") == "bpe" and isinstance(spec.get("merges"), list):
        return BpeTokenizer(spec["merges"])
    raise ValueError(f"Unknown tokenizer: {str(spec)[:100]}")
