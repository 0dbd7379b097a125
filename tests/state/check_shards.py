"""Shards and merge (docs/STATE.md): `scan --shard I/N --state F` for every I, then `maxact merge`
in several orders, must write the report, CSVs and study files of one unsharded run, bitwise
apart from the run's timing fields (run.seconds, tokens_per_second, finished_at, command,
threads; the quantization check's calibration_seconds).
Covers a dense and an MoE zoo model (tokenizer, categories, token contexts), a dense, an MoE and
a hybrid (Gated DeltaNet) fixture on random ids, with and without --quant, the quantization check
also calibrated once (--calibrate-only) for its shards; then the refusals: missing and
duplicate shards, states of another scan, bad state files (not a state, truncated, another
version, checksum mismatch, payload mutations with a valid checksum), each a clear error naming
the file with nothing written.

usage: check_shards.py MAXACT ZOO_DIR FIXTURE_DIR WORK_DIR
"""
import json
import os
import random
import shutil
import subprocess
import sys
import zlib

from state_common import normalized_report, run

HEADER = 16 + 4 + 4 + 8 + 4 + 4  # magic, version, flags, length, payload CRC-32, header CRC-32






def same_files(a, b, what):
    with open(a, "rb") as f, open(b, "rb") as g:
        if f.read() != g.read():
            sys.exit(f"FAIL: {what}: {b} differs from the single run's {a}")


def check_case(maxact, name, model, args, shard_counts, work, outputs):
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    single = os.path.join(d, "single")
    os.makedirs(single)
    out_args = ["-o", os.path.join(single, "report.json"), "--csv", os.path.join(single, "t.csv")]
    if "quant" in outputs:
        out_args += ["--quant-csv", os.path.join(single, "q.csv")]
    run([maxact, "scan", model, "-q", "--threads", "2"] + args + out_args)
    study_single = os.path.join(d, "study_single")
    if "study" in outputs:
        run([maxact, "scan", model, "-q", "--threads", "2", "--format", "study", "-o",
             study_single] + args)
    want = normalized_report(os.path.join(single, "report.json"))
    rnd = random.Random(name)
    for n in shard_counts:
        states = []
        for i in range(n):
            st = os.path.join(d, f"s{i}of{n}.state")
            # Shards run with different thread counts: states must not depend on them.
            run([maxact, "scan", model, "-q", "--threads", str(1 + i % 2), "--shard", f"{i}/{n}",
                 "--state", st] + args)
            states.append(st)
        for attempt in range(2 if n > 1 else 1):
            order = states[:]
            rnd.shuffle(order)
            m = os.path.join(d, f"merged{n}_{attempt}")
            os.makedirs(m)
            cmd = [maxact, "merge"] + order + ["-o", os.path.join(m, "report.json"), "--csv",
                                               os.path.join(m, "t.csv")]
            if "quant" in outputs:
                cmd += ["--quant-csv", os.path.join(m, "q.csv")]
            run(cmd)
            if normalized_report(os.path.join(m, "report.json")) != want:
                sys.exit(f"FAIL: {name}: merge of {n} shards ({order}) differs from the single run")
            same_files(os.path.join(single, "t.csv"), os.path.join(m, "t.csv"), name)
            if "quant" in outputs:
                same_files(os.path.join(single, "q.csv"), os.path.join(m, "q.csv"), name)
        if "study" in outputs and n > 1:
            study = os.path.join(d, f"study{n}")
            run([maxact, "merge"] + states + ["--format", "study", "-o", study])
            for f in sorted(os.listdir(study_single)):
                same_files(os.path.join(study_single, f), os.path.join(study, f), f"{name} {f}")
        print(f"ok   {name}: {n} shard(s) merged in two orders = the single run")
    if "quant" in outputs:
        check_calibrate_once(maxact, name, model, args, d, want)
    return d


def check_calibrate_once(maxact, name, model, args, d, want):
    """The calibration run once (--calibrate-only), three shards evaluating against it."""
    cal = os.path.join(d, "calibration.state")
    run([maxact, "scan", model, "-q", "--calibrate-only", "--state", cal] + args)
    states = []
    for i in range(3):
        st = os.path.join(d, f"c{i}of3.state")
        run([maxact, "scan", model, "-q", "--shard", f"{i}/3", "--calibration", cal, "--state",
             st] + args)
        states.append(st)
    out = os.path.join(d, "calibrated_once.json")
    run([maxact, "merge"] + states[::-1] + ["-o", out])
    if normalized_report(out) != want:
        sys.exit(f"FAIL: {name}: shards evaluating one calibration differ from the single run")
    refused([maxact, "merge", cal, "-o", out + "2"], [cal, "a calibration"], [out + "2"])
    other = [a for a in args]
    other[other.index("--eval") + 1] = str(int(other[other.index("--eval") + 1]) - 1)
    refused([maxact, "scan", model, "-q", "--calibration", cal, "-o", out + "2"] + other,
            [cal, "a calibration of another scan", "in this run"], [out + "2"])
    print(f"ok   {name}: calibrated once, 3 shards against it = the single run; misuse refused")


def ids_corpus(path, model, n, seed):
    with open(os.path.join(model, "config.json")) as f:
        cfg = json.load(f)
    vocab = cfg.get("vocab_size") or cfg.get("text_config", {}).get("vocab_size")
    r = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"input_ids": [r.randrange(vocab) for _ in range(12 + 3 * i)],
                                "category": "c%d" % (i % 3)}) + "\n")


def refused(cmd, needles, must_not_exist):
    p = run(cmd, expect=1)
    for s in needles:
        if s not in p.stderr:
            sys.exit(f"FAIL: {' '.join(cmd)}: message lacks {s!r}:\n{p.stderr}")
    for f in must_not_exist:
        if os.path.exists(f):
            sys.exit(f"FAIL: {' '.join(cmd)} failed but wrote {f}")
    print(f"ok   refused: {p.stderr.strip()[:150]}")


def rewrite(src, dst, payload=None, version=None):
    """The state with another payload or version, its checksums made to match."""
    data = bytearray(open(src, "rb").read())
    if payload is not None:
        data = data[:HEADER] + payload
        data[24:32] = len(payload).to_bytes(8, "little")
    if version is not None:
        data[16:20] = version.to_bytes(4, "little")
    data[32:36] = zlib.crc32(bytes(data[HEADER:])).to_bytes(4, "little")
    data[36:40] = zlib.crc32(bytes(data[:36])).to_bytes(4, "little")
    open(dst, "wb").write(bytes(data))


def check_refusals(maxact, d, fixture, ids):
    states = [os.path.join(d, f"s{i}of3.state") for i in range(3)]
    out = os.path.join(d, "refused.json")
    refused([maxact, "merge", states[0], states[2], "-o", out], ["shard(s) 1 of 3 missing"], [out])
    refused([maxact, "merge", states[0], states[1], states[1], states[2], "-o", out],
            ["given twice", states[1]], [out])
    other = os.path.join(d, "other.state")
    run([maxact, "scan", fixture, "-q", "--corpus", ids, "--ids-native", "--max-seq-len", "0",
         "--topk", "7", "--shard", "1/3", "--state", other])
    refused([maxact, "merge", states[0], other, states[2], "-o", out],
            ["not parts of one scan", "option topk", other], [out])
    refused([maxact, "merge", states[0], os.path.join(d, "s0of1.state"), "-o", out],
            ["shard 0/3", "shard 0/1"], [out])
    bad = os.path.join(d, "bad.state")
    shutil.copy(os.path.join(d, "single", "report.json"), bad)
    refused([maxact, "merge", bad, "-o", out], [bad, "not a maxact scan state"], [out])
    data = open(states[1], "rb").read()
    open(bad, "wb").write(data[: len(data) // 2])
    refused([maxact, "merge", states[0], bad, states[2], "-o", out], [bad, "truncated"], [out])
    open(bad, "wb").write(data[:50])
    refused([maxact, "merge", bad, "-o", out], [bad, "truncated"], [out])
    rewrite(states[1], bad, version=2)
    refused([maxact, "merge", bad, "-o", out], [bad, "format version 2"], [out])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    open(bad, "wb").write(bytes(flipped))
    refused([maxact, "merge", bad, "-o", out], [bad, "checksum mismatch"], [out])
    payload = data[HEADER:]
    rewrite(states[1], bad, payload=payload[: len(payload) - 9])
    refused([maxact, "merge", bad, "-o", out], [bad, "truncated"], [out])
    # Hostile payloads with valid checksums: an error naming the file or, where the change is
    # harmless (a statistic's value), a report; never a crash or an internal error.
    r = random.Random(7)
    errors = 0
    for k in range(40):
        p = bytearray(payload)
        for _ in range(1 + k % 3):
            # Every other round in the first 20 kB: identities, options, tap descriptions.
            i = r.randrange(len(p) if k % 2 else min(len(p), 20000))
            p[i] = r.choice([0, 0xFF, p[i] ^ (1 << r.randrange(8)), r.randrange(256)])
        rewrite(states[1], bad, payload=bytes(p))
        q = subprocess.run([maxact, "merge", states[0], bad, states[2]], capture_output=True,
                           text=True)
        if q.returncode not in (0, 1) or (q.returncode == 1 and bad not in q.stderr):
            sys.exit(f"FAIL: mutated state (seed 7, round {k}): exit {q.returncode}\n{q.stderr}")
        errors += q.returncode == 1
    print(f"ok   40 mutated payloads with valid checksums: {errors} refused, the rest merged")
    refused([maxact, "scan", fixture, "-q", "--corpus", ids, "--ids-native", "--shard", "0/2"],
            ["--shard needs --state"], [])
    refused([maxact, "scan", fixture, "-q", "--corpus", ids, "--ids-native", "--shard", "0/2",
             "--state", bad + "2", "-o", out], ["maxact merge"], [out, bad + "2"])
    refused([maxact, "scan", fixture, "-q", "--corpus", ids, "--ids-native", "--shard", "0/999",
             "--state", bad + "2"], ["more shards than"], [bad + "2"])
    run([maxact, "scan", fixture, "-q", "--corpus", ids, "--ids-native", "--shard", "3/3",
         "--state", bad + "2"], expect=2)


def main():
    maxact, zoo, fixtures, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    check_case(maxact, "llama-tiny", os.path.join(zoo, "llama-tiny"), ["--samples", "24"],
               [1, 2, 3, 7], work, {"study"})
    check_case(maxact, "qwen3-moe-tiny-quant", os.path.join(zoo, "qwen3-moe-tiny"),
               ["--quant", "--calib", "6", "--eval", "9", "--expert-inputs"], [3], work,
               {"quant", "study"})
    for fixture, quant in (("qwen3", True), ("qwen3_moe", False), ("qwen3_moe", True),
                           ("qwen3_5", False), ("qwen3_5", True)):
        model = os.path.join(fixtures, fixture)
        name = fixture + ("-quant" if quant else "")
        ids = os.path.join(work, name + ".jsonl")
        ids_corpus(ids, model, 16, 1)
        args = ["--corpus", ids, "--ids-native", "--max-seq-len", "0", "--window-tokens", "64"]
        if quant:
            args += ["--quant", "--calib", "5", "--eval", "11"]
        d = check_case(maxact, name, model, args, [1, 2, 3, 7], work,
                       {"quant"} if quant else set())
        if fixture == "qwen3_5" and not quant:
            check_refusals(maxact, d, model, ids)
    print("all shard merges identical to the single runs; bad states refused")


if __name__ == "__main__":
    main()
