"""Byte-level BPE: training and encoding, written for maxact's model zoo.

The tokenizer it produces is a genuine Hugging Face tokenizer.json (GPT-2 style: the ByteLevel
pre-tokenizer with its regex, a BPE model over GPT-2's byte-to-unicode alphabet, a template that
prepends <|bos|>). The pre-tokenizer is GPT-2's pattern

    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+

scanned by hand with unicodedata categories (Debian's Python has no `regex` module). What the
tokenizer does is defined by the tokenizer.json alone; this scanner only decides which merges are
learnt, and the encoder here only prepares training data. Scans use maxact's own tokenizer
(checked id by id against Hugging Face's on the whole built-in corpus), and
tests/reference/test_zoo.py checks that it and this encoder agree on held-out text.
"""
import collections
import unicodedata

SPECIALS = ("<|pad|>", "<|bos|>", "<|eos|>")
CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")


def bytes_to_unicode():
    """GPT-2's map from bytes to printable characters (the ByteLevel alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def _letter(c):
    return unicodedata.category(c)[0] == "L"


def _number(c):
    return unicodedata.category(c)[0] == "N"


def _other(c):
    return not (c.isspace() or _letter(c) or _number(c))


def pretokenize(s):
    out = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "'":
            suf = next((x for x in CONTRACTIONS if s.startswith(x, i + 1)), None)
            if suf:
                out.append(s[i:i + 1 + len(suf)])
                i += 1 + len(suf)
                continue
        j = i + 1 if c == " " and i + 1 < n else i
        matched = False
        for cls in (_letter, _number, _other):
            if cls(s[j]):
                k = j
                while k < n and cls(s[k]):
                    k += 1
                out.append(s[i:k])
                i = k
                matched = True
                break
        if matched:
            continue
        k = i
        while k < n and s[k].isspace():
            k += 1
        if k < n and k - i >= 2:
            k -= 1  # \s+(?!\S): leave the last space to the word after it
        out.append(s[i:k])
        i = k
    return out


def word_symbols(word, byte_map):
    return tuple(byte_map[b] for b in word.encode("utf-8"))


def train(texts, vocab_size, min_frequency=2):
    """Returns (vocab {token: id}, merges [(a, b)]). Ids: specials, then the 256 byte symbols in
    byte order, then merges in the order learnt. The most frequent pair wins; ties go to the pair
    whose symbols come first in id order, so the result depends on the corpus alone."""
    byte_map = bytes_to_unicode()
    counts = collections.Counter()
    for t in texts:
        counts.update(pretokenize(t))
    vocab = {s: i for i, s in enumerate(SPECIALS)}
    for b in range(256):
        vocab[byte_map[b]] = len(vocab)
    words = [list(word_symbols(w, byte_map)) for w in counts]
    freq = list(counts.values())
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for wi, syms in enumerate(words):
        for a, b in zip(syms, syms[1:]):
            pairs[(a, b)] += freq[wi]
            where[(a, b)].add(wi)
    merges = []
    while len(vocab) < vocab_size and pairs:
        best = min(pairs.items(), key=lambda kv: (-kv[1], vocab[kv[0][0]], vocab[kv[0][1]]))
        (a, b), count = best
        if count < min_frequency:
            break
        merged = a + b
        merges.append((a, b))
        vocab[merged] = len(vocab)
        for wi in sorted(where.pop((a, b), ())):
            syms, f = words[wi], freq[wi]
            for p in zip(syms, syms[1:]):
                pairs[p] -= f
                if pairs[p] <= 0:
                    del pairs[p]
            out, k = [], 0
            while k < len(syms):
                if k + 1 < len(syms) and syms[k] == a and syms[k + 1] == b:
                    out.append(merged)
                    k += 2
                else:
                    out.append(syms[k])
                    k += 1
            words[wi] = out
            for p in zip(out, out[1:]):
                pairs[p] += f
                where[p].add(wi)
        pairs.pop((a, b), None)
    return vocab, merges


class Encoder:
    """Plain BPE by merge rank over the pre-tokenized words (what HF's BPE model computes)."""

    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.rank = {tuple(m): r for r, m in enumerate(merges)}
        self.byte_map = bytes_to_unicode()
        self.cache = {}

    def word(self, w):
        hit = self.cache.get(w)
        if hit is not None:
            return hit
        syms = list(word_symbols(w, self.byte_map))
        while len(syms) > 1:
            ranked = [(self.rank.get(p, 1 << 30), k) for k, p in enumerate(zip(syms, syms[1:]))]
            r, k = min(ranked)
            if r == 1 << 30:
                break
            syms[k:k + 2] = [syms[k] + syms[k + 1]]
        ids = [self.vocab[s] for s in syms]
        self.cache[w] = ids
        return ids

    def encode(self, text, bos=True):
        ids = [self.vocab["<|bos|>"]] if bos else []
        for w in pretokenize(text):
            ids.extend(self.word(w))
        return ids


def tokenizer_json(vocab, merges):
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": True}
    added = [{"id": vocab[s], "content": s, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True} for s in SPECIALS]
    bos = {"SpecialToken": {"id": "<|bos|>", "type_id": 0}}
    template = {"type": "TemplateProcessing",
                "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "<|bos|>", "type_id": 1}},
                         {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<|bos|>": {"id": "<|bos|>", "ids": [vocab["<|bos|>"]],
                                               "tokens": ["<|bos|>"]}}}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": None, "pre_tokenizer": byte_level, "post_processor": template,
            "decoder": byte_level,
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]}}


def tokenizer_config():
    return {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|bos|>",
            "eos_token": "<|eos|>", "pad_token": "<|pad|>", "add_bos_token": True,
            "add_eos_token": False, "clean_up_tokenization_spaces": False,
            "model_max_length": 2048}
