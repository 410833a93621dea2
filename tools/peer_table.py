#!/usr/bin/env python3
"""peer_table.py: make bench-peer's ratio table, from the two engines' CSVs (tools/bench-peer.sh).

    python3 tools/peer_table.py LLAMA_CSV PROTOSTAR_CSV OUT_CSV COMMIT HAS_AMX P N "BUILDS" "AMX NOTE"

LLAMA_CSV: llama-bench's CSV lines, each prefixed with "round,build,format,"; PROTOSTAR_CSV:
build/tools/bench_peer's CSV with a first column "round". A round is one pass over the formats,
both engines back to back per format. Each cell of the table is
protostar's tok/s / llama.cpp's tok/s = their ratio; with several rounds the two speeds are
medians over the rounds, the ratio is the median of the rounds' own ratios (each taken from
numbers measured minutes apart, not an hour), and the smallest and largest of them follow it.
OUT_CSV gets every measurement, one row per engine, round and cell.
"""
import csv
import statistics
import sys

from atomic_write import replacing


def read_llama(path):
    """(round, build, format, threads, test, depth) -> tok/s, from llama-bench's CSV lines."""
    runs, header = {}, None
    for line in open(path):
        rnd, build, fmt, rest = line.rstrip("\n").split(",", 3)
        row = next(csv.reader([rest]))
        if row and row[0] == "build_commit":
            header = row
            continue
        r = dict(zip(header, row))
        test = "pp%s" % r["n_prompt"] if int(r["n_prompt"]) > 0 else "tg%s" % r["n_gen"]
        depth = int(r.get("n_depth", 0) or 0)
        runs[(int(rnd), build, fmt, int(r["n_threads"]), test, depth)] = float(r["avg_ts"])
    return runs


def read_protostar(path):
    """(round, format, threads, test, depth) -> tok/s."""
    return {(int(r["round"]), r["format"], int(r["threads"]), r["test"], int(r["depth"])): float(r["tokens_per_s"])
            for r in csv.DictReader(open(path))}


def cell(ps, ll, rounds, key, build):
    """'A / L = ratio' for one cell, over the rounds that measured it on both sides."""
    pairs = [(ps[(n,) + key], ll[(n, build) + key]) for n in rounds if (n,) + key in ps and (n, build) + key in ll]
    pairs = [(a, l) for a, l in pairs if l > 0]
    if not pairs:
        return "-"
    ratios = [a / l for a, l in pairs]
    text = "%.1f / %.1f = %.2fx" % (statistics.median(a for a, _ in pairs), statistics.median(l for _, l in pairs),
                                    statistics.median(ratios))
    return text + (" (%.2f-%.2f)" % (min(ratios), max(ratios)) if len(pairs) > 1 else "")


def slowdown(ps, ll, rounds, builds, formats, threads, depths, test):
    """Each engine against itself: a decode step's time at each depth / its time at the first."""
    def ratio(get, key_at):
        r = [get(n, key_at(depths[0])) / get(n, key_at(d)) for n in rounds
             if get(n, key_at(depths[0])) and get(n, key_at(d))]
        return ("%.2fx" % statistics.median(r) + (" (%.2f-%.2f)" % (min(r), max(r)) if len(r) > 1 else "")) if r else "-"
    print("\n| decode step at depth D / at %d | threads | engine | %s |" % (depths[0], " | ".join(formats)))
    print("|---|---|---|%s" % ("---|" * len(formats)))
    for d in depths[1:]:
        for t in threads:
            engines = [("protostar", lambda n, k: ps.get((n,) + k))]
            engines += [("llama.cpp " + b, lambda n, k, b=b: ll.get((n, b) + k)) for b in builds]
            for name, get in engines:
                cells = []
                for f in formats:
                    key_at = lambda depth, f=f: (f, t, test, depth)
                    cells.append(ratio(get, key_at))
                print("| %d | %d | %s | %s |" % (d, t, name, " | ".join(cells)))


def main():
    if len(sys.argv) != 10:
        sys.exit(__doc__)
    llama_csv, ps_csv, out_csv, commit, has_amx, P, N, builds, amx_note = sys.argv[1:10]
    builds = builds.split()
    ll, ps = read_llama(llama_csv), read_protostar(ps_csv)
    rounds = sorted(set(k[0] for k in ps))
    formats = list(dict.fromkeys(k[1] for k in ps))
    threads = sorted(set(k[2] for k in ps))
    depths = sorted(set(k[4] for k in ps))
    with replacing(out_csv, "w") as o:
        w = csv.writer(o)
        w.writerow(["engine", "build", "round", "format", "threads", "test", "depth", "tokens_per_s"])
        for (n, f, t, test, d), v in sorted(ps.items()):
            w.writerow(["protostar", "", n, f, t, test, d, v])
        for (n, b, f, t, test, d), v in sorted(ll.items()):
            w.writerow(["llama.cpp", b, n, f, t, test, d, v])
    print("\nllama.cpp %s; CPU with AMX: %s; AMX in the builds: %s" % (commit, has_amx, amx_note))
    if len(rounds) > 1:
        print("%d rounds: medians, then the smallest and largest of the rounds' ratios" % len(rounds))
    for b in builds:
        print("\n| tok/s, protostar / llama.cpp (%s build) | threads | %s |" % (b, " | ".join(formats)))
        print("|---|---|%s" % ("---|" * len(formats)))
        for d in depths:
            at = " after %d positions" % d if d else ""
            tests = [("tg%s" % N, "decode (tg%s)%s" % (N, at)), ("pp%s" % P, "prefill %s (pp%s)%s" % (P, P, at))]
            for test, label in tests[:1] if P == "0" else tests:   # P=0: no prefill was run
                for i, t in enumerate(threads):
                    cells = [cell(ps, ll, rounds, (f, t, test, d), b) for f in formats]
                    print("| %s | %d | %s |" % (label if i == 0 else "", t, " | ".join(cells)))
    if len(depths) > 1:
        slowdown(ps, ll, rounds, builds, formats, threads, depths, "tg%s" % N)
    print("\nCSV: %s" % out_csv)


if __name__ == "__main__":
    main()
