"""MPI (docs/STATE.md): `mpirun -np 3 maxact scan ...` writes the report of one single-process
run, bitwise apart from the run's timing fields (dense zoo model with categories; an MoE fixture
with the quantization check; with --checkpoint, each rank's checkpoint removed once rank 0 has
written); --state written by rank 0 merges alone to it; one rank given a bad corpus path fails the job with that rank's message and no report.
Exits 77 (skipped) when maxact was built without MPI or mpirun is missing.

usage: check_mpi.py MAXACT ZOO_DIR FIXTURE_DIR WORK_DIR
"""
import json
import os
import random
import shutil
import subprocess
import sys

from state_common import normalized_report, run







def main():
    maxact, zoo, fixtures, work = sys.argv[1:5]
    version = subprocess.run([maxact, "--version"], capture_output=True, text=True).stdout
    mpirun = shutil.which("mpirun")
    if "MPI: not built in" in version or mpirun is None:
        print(f"SKIP: {version.strip()}; mpirun: {mpirun} (scripts/deps.sh --test installs "
              "libopenmpi-dev and openmpi-bin)")
        sys.exit(77)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    # Open MPI keeps buffers until exit that LeakSanitizer would report as leaks.
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    mpi = [mpirun, "--oversubscribe", "-np", "3"]

    ids = os.path.join(work, "ids.jsonl")
    model = os.path.join(fixtures, "qwen3_moe")
    with open(os.path.join(model, "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    r = random.Random(3)
    with open(ids, "w") as f:
        for i in range(14):
            f.write(json.dumps({"input_ids": [r.randrange(vocab) for _ in range(10 + 4 * i)],
                                "category": "c%d" % (i % 3)}) + "\n")
    cases = [("llama-tiny", os.path.join(zoo, "llama-tiny"), ["--samples", "24"]),
             ("qwen3_moe-quant", model, ["--corpus", ids, "--ids-native", "--max-seq-len", "0",
                                         "--quant", "--calib", "4", "--eval", "10",
                                         "--window-tokens", "80"])]
    for name, m, args in cases:
        single = os.path.join(work, name + "-single.json")
        run([maxact, "scan", m, "-q", "--threads", "1", "-o", single] + args, env=env)
        for extra, what in (([], "plain"), (["--checkpoint", os.path.join(work, name + "-ck")],
                                            "with checkpoints")):
            out = os.path.join(work, f"{name}-mpi-{what.replace(' ', '_')}.json")
            run(mpi + [maxact, "scan", m, "-q", "--threads", "1", "-o", out] + args + extra, env=env)
            if normalized_report(out) != normalized_report(single):
                sys.exit(f"FAIL: {name}: mpirun -np 3 ({what}) differs from the single run")
            if extra and os.listdir(extra[1]):
                sys.exit(f"FAIL: {name}: checkpoints left: {os.listdir(extra[1])}")
            print(f"ok   {name}: mpirun -np 3 ({what}) = the single-process report")
        # --state under mpirun: rank 0 writes the merged state, which merges alone.
        st = os.path.join(work, name + ".state")
        run(mpi + [maxact, "scan", m, "-q", "--threads", "1", "--state", st] + args, env=env)
        merged = os.path.join(work, name + "-merged.json")
        run([maxact, "merge", st, "-o", merged], env=env)
        if normalized_report(merged) != normalized_report(single):
            sys.exit(f"FAIL: {name}: the state written under mpirun does not merge to the report")
        print(f"ok   {name}: the state rank 0 writes merges alone to the same report")

    out = os.path.join(work, "failed.json")
    m = os.path.join(zoo, "llama-tiny")
    good = [maxact, "scan", m, "-q", "--samples", "24", "-o", out]
    p = run([mpirun, "--oversubscribe", "-np", "2"] + good + [":", "-np", "1"] + good +
            ["--corpus", os.path.join(work, "missing.jsonl")], expect=1, env=env)
    if "rank 2 of 3" not in p.stderr or "missing.jsonl" not in p.stderr:
        sys.exit(f"FAIL: a failing rank's message:\n{p.stderr}")
    if os.path.exists(out):
        sys.exit("FAIL: a job with a failed rank wrote a report")
    print("ok   a rank with a bad corpus fails the job with its message; no report")
    p = run(mpi + [maxact, "scan", m, "-q", "--shard", "0/2", "--state", out + ".s"], expect=1,
            env=env)
    if "every rank is a shard" not in p.stderr:
        sys.exit(f"FAIL: --shard under mpirun: {p.stderr}")
    print("mpirun runs identical to single-process runs")


if __name__ == "__main__":
    main()
