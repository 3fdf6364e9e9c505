"""Command line: ``btb run`` (the workflow), ``btb verify`` (re-hash a manifest's files, check its signature),
``btb keygen``, ``btb review``, ``btb evaluate``, ``btb shard``, ``btb demo``, ``btb test``."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

from btb.errors import BTBError

REPO = Path(__file__).resolve().parents[2]


def _snakemake_cmd(args: argparse.Namespace, extra: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--profile", str(REPO / "profiles" / args.profile), "--cores", str(args.cores)]
    if args.directory:
        cmd += ["--directory", str(Path(args.directory).resolve())]
    if args.configfile:
        cmd += ["--configfile", str(Path(args.configfile).resolve())]
    overrides = []
    if args.samples:
        overrides.append(f"samples={Path(args.samples).resolve()}")
    if args.input_dir:
        overrides.append(f"input_dir={Path(args.input_dir).resolve()}")
    if getattr(args, "input_map", None):
        overrides.append(f"input_map={Path(args.input_map).resolve()}")
    if overrides:
        cmd += ["--config", *overrides]
    return cmd + extra


def _check_configs(paths: list[str | Path]) -> None:
    """Refuse, naming the file, a configuration Snakemake would choke on before anything validates it (not
    UTF-8, or YAML anchors and aliases, which can expand a small file without bound)."""
    from btb.config import check_config_text

    for path in [REPO / "config" / "config.yaml", *paths]:
        check_config_text(path)


def cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    _check_configs([args.configfile] if args.configfile else [])
    cmd = _snakemake_cmd(args, extra)
    print("+", " ".join(cmd), file=sys.stderr)
    rc = subprocess.call(cmd, cwd=args.directory or REPO)
    results = Path(args.directory or REPO) / "results" / "summary.tsv"
    if rc == 0 and results.exists() and "-n" not in extra and "--dry-run" not in extra:
        print(f"\nDone. Run summary: {results}\n{results.read_text()}")
    return rc


def cmd_evaluate(args: argparse.Namespace, extra: list[str]) -> int:
    """The workflow's ``evaluate`` target: detection + merge on labeled sets, scored into a report."""
    _check_configs(args.configfile)
    # the target comes before --configfile, whose list of files would otherwise swallow it
    cmd = [sys.executable, "-m", "snakemake", "evaluate", "--snakefile", str(REPO / "Snakefile"),
           "--profile", str(REPO / "profiles" / "default"), "--cores", str(args.cores)]
    if args.directory:
        cmd += ["--directory", str(Path(args.directory).resolve())]
    cmd += extra
    if args.configfile:  # laid over config/config.yaml (the workflow loads it from wherever it runs)
        cmd += ["--configfile", *[str(Path(c).resolve()) for c in args.configfile]]
    print("+", " ".join(cmd), file=sys.stderr)
    rc = subprocess.call(cmd, cwd=args.directory or REPO)
    report = Path(args.directory or REPO) / "results" / "eval" / "report.md"
    if rc == 0 and report.exists():
        print(f"\nReport: {report} (JSON beside it, plots in results/eval/plots/)")
    return rc


def cmd_verify(args: argparse.Namespace, extra: list[str]) -> int:
    from btb.audit.signing import load_public_key, public_key_sha256, signature_path
    from btb.audit.verify import verify_manifest, verify_release

    key = load_public_key(args.key) if args.key else None
    status = 0
    manifests: list[Path] = []
    for given in map(Path, args.manifests):  # a results folder stands for all its manifests
        manifests += sorted(given.glob("*/manifest.json")) if given.is_dir() else [given]
    for manifest in manifests:
        problems, checked = verify_manifest(manifest, args.base, public_key=key)
        if problems:
            status = 1
            print(f"FAIL {manifest}: {len(problems)} problem(s) ({checked} files checked)")
            for p in problems:
                print(f"  {p}")
            continue
        print(f"OK   {manifest}: {checked} files match their recorded sha256 and size; run log intact")
        if key is not None:
            print(f"     signature valid (Ed25519, public key sha256 {public_key_sha256(key)})")
        elif signature_path(manifest).is_file():
            print(f"     {signature_path(manifest).name} present but not checked: give --key PUBLIC.pem")
    # the release area of every results folder involved: each file in it must be a verified, released output
    for results in sorted({m.resolve().parent.parent for m in manifests}):
        problems, checked = verify_release(results, key)
        folder = results / "release"
        if problems:
            status = 1
            print(f"FAIL {folder}: {len(problems)} problem(s) ({checked} files checked)")
            for p in problems:
                print(f"  {p}")
        else:
            print(f"OK   {folder}: {checked} file(s), each the released output of a manifest that verifies")
    return status


def cmd_keygen(args: argparse.Namespace, extra: list[str]) -> int:
    from btb.audit.signing import generate_keypair

    digest = generate_keypair(args.private, args.public)
    print(f"private key {args.private} (owner-only: keep it outside results/, set audit.signing_key or "
          f"BTB_SIGNING_KEY to it)\npublic key  {args.public} (give it to auditors: btb verify --key "
          f"{args.public} ...)\npublic key sha256 {digest}")
    return 0


def _open_items(path: Path, limit: int = 10) -> list[str]:
    """One line per open review item (time range, frames, detectors, score), the first ``limit``."""
    import csv

    with open(path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["status"] == "open"]
    lines = [f"item {r['item']}: {r['start']}-{r['end']}, {r['frames']} frame(s), {r['detectors']}, "
             f"score {float(r['max_score']):.2f}" for r in rows[:limit]]
    return lines + ([f"... {len(rows) - limit} more in {path}"] if len(rows) > limit else [])


def cmd_review(args: argparse.Namespace, extra: list[str]) -> int:
    from btb.release.review import pending, record_decision

    results = Path(args.results)
    key = args.key or os.environ.get("BTB_REVIEWER_KEY") or None
    if args.action == "serve":
        from btb.release.server import serve

        if not args.reviewer:
            print("btb review serve needs --reviewer (your name: recorded with every decision)", file=sys.stderr)
            return 2
        if not results.is_dir():
            raise BTBError(f"{results}: no results folder (give --results, the folder the workflow wrote)")
        serve(results, args.reviewer, key, args.port)
        return 0
    if args.action == "list":
        states = pending(results)
        if not states:
            print(f"no release states under {results}")
        for st in states:
            print(f"{st['status']:<13} {st['video_id']:<24} verification {st['verdict']:<12} {st['why']}")
            items = results / st["video_id"] / "verification" / "review_items.tsv"
            if st["status"] == "needs_review" and items.is_file():
                for line in _open_items(items):
                    print(f"{'':<14}{line}")
        return 0
    if not args.video_id or not args.reviewer:
        print("btb review approve|reject needs VIDEO_ID, --reviewer and --reason", file=sys.stderr)
        return 2
    entry = record_decision(results, args.video_id, args.action, args.reviewer, args.reason or "", key, args.item)
    signed = f"signed by key sha256 {entry['signature']['public_key_sha256']}" if "signature" in entry else "unsigned"
    what = f"{entry['decision']} of item {args.item}" if args.item is not None else entry["decision"]
    print(f"{entry['video_id']}: {what} recorded ({signed}) for the file with sha256 "
          f"{entry['output_sha256']}.\nRun the workflow again (btb run ... as before) to decide, record and "
          "release: nothing leaves the lab before its manifest exists.")
    return 0


def cmd_config(args: argparse.Namespace, extra: list[str]) -> int:
    """The effective configuration: config/config.yaml, the given files laid over it, defaults filled in."""
    import yaml

    from btb.config import overlay, read_config_file, validate_config

    if args.reference:
        from btb.config import reference_table

        print(reference_table(), end="")
        return 0
    config: dict = {}
    for path in [REPO / "config" / "config.yaml", *args.configfile]:
        overlay(config, read_config_file(path))
    validate_config(config, " + ".join(["config/config.yaml", *args.configfile]))
    print(yaml.safe_dump(config, sort_keys=False), end="")
    return 0


def cmd_demo(args: argparse.Namespace, extra: list[str]) -> int:
    from btb.video.demo import write_demo_video

    print(write_demo_video(args.out))
    return 0


def cmd_shard(args: argparse.Namespace, extra: list[str]) -> int:
    """Split a sample sheet into shards (btb.shards), stage their models once, and print the command that
    runs each shard."""
    from btb.shards import shard_config, shard_samples

    config = shard_config(REPO, args.configfile)
    shards = shard_samples(args.samples, args.out, args.size, config)
    # the shards read one model folder: stage it now, once, rather than from shards started side by side
    staging = [sys.executable, "-m", "snakemake", "stage_models", "--snakefile", str(REPO / "Snakefile"),  # target
               "--cores", "1", "--quiet", "--directory", str(Path(args.out).absolute()),  # before --configfile's list
               "--configfile", str(shards[0].config.absolute())]
    done = subprocess.run(staging, capture_output=True, text=True)
    if done.returncode:
        print(done.stdout[-3000:] + done.stderr[-3000:], file=sys.stderr)
        raise BTBError("model staging for the shards failed (offline? set BTB_MODEL_MIRROR to a folder with the "
                       "model files)")
    changed = sum(s.changed for s in shards)
    print(f"{sum(s.videos for s in shards)} videos in {len(shards)} shards of at most {args.size} under "
          f"{args.out} ({changed} written, {len(shards) - changed} unchanged); models staged. Run each (in any "
          "order, on any machine that sees the videos):", file=sys.stderr)
    profile = [] if args.profile == "default" else ["--profile", args.profile]
    for s in shards:
        print(shlex.join([str(REPO / "btb"), "run", *profile, "--samples", str(s.sheet.absolute()), "--configfile",
                          str(s.config.absolute()), "--directory", str(s.folder.absolute())]))
    return 0


def cmd_test(args: argparse.Namespace, extra: list[str]) -> int:
    import pytest

    os.chdir(REPO)
    return int(pytest.main(["-ra", "--durations=25", *extra]))  # the slowest tests, to keep the suite short


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="btb", description="Blur the Baby: de-identify research videos of children.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the workflow (no input given: the built-in demo video)",
                       epilog="Arguments after '--' go to snakemake, e.g. 'btb run -- -n' for a dry run.")
    src = r.add_mutually_exclusive_group()
    src.add_argument("--samples", help="sample sheet (TSV: video_id, path)")
    src.add_argument("--input-dir", help="folder of videos and photos (opaque ids by default)")
    r.add_argument("--input-map", help="with --input-dir: write the map from file to id here (owner-only; keep "
                                       "it outside results/)")
    r.add_argument("--configfile", help="configuration YAML (default config/config.yaml)")
    r.add_argument("--directory", help="working directory for results/ (default: the repository)")
    r.add_argument("--profile", default="default", help="profile under profiles/ (default, slurm)")
    r.add_argument("--cores", default="all")
    r.set_defaults(func=cmd_run)
    e = sub.add_parser("evaluate", help="score detection and merge methods on labeled images/videos",
                       epilog="Labeled sets come from the config's 'evaluate' section, e.g. "
                              "--configfile config/evaluate_shared.yaml")
    e.add_argument("--configfile", action="append", default=[], help="extra config file(s) (repeatable)")
    e.add_argument("--directory", help="working directory for results/ (default: the repository)")
    e.add_argument("--cores", default="all")
    e.set_defaults(func=cmd_evaluate)
    v = sub.add_parser("verify", help="re-hash the files a manifest lists and check the release area; exit 1 on "
                                      "any mismatch")
    v.add_argument("manifests", nargs="+", help="manifest.json files, or results folders (all their manifests)")
    v.add_argument("--base", help="folder that relative paths in the manifest are relative to")
    v.add_argument("--key", help="Ed25519 public key (PEM): every manifest must carry a valid signature by it")
    v.set_defaults(func=cmd_verify)
    k = sub.add_parser("keygen", help="make an Ed25519 key pair for signing manifests (audit.signing_key)")
    k.add_argument("private", help="private key file to create (PEM, mode 600; never put it under results/)")
    k.add_argument("public", help="public key file to create (PEM; what auditors verify with)")
    k.set_defaults(func=cmd_keygen)
    rv = sub.add_parser("review", help="list outputs held for review; approve or reject one (recorded); serve the "
                                       "reviewer page (play, approve items, add blur regions)")
    rv.add_argument("action", choices=["list", "approve", "reject", "serve"])
    rv.add_argument("video_id", nargs="?")
    rv.add_argument("--item", type=int, help="with approve: approve this one review item, not the whole file")
    rv.add_argument("--port", type=int, default=0, help="with serve: port on 127.0.0.1 (default: any free one)")
    rv.add_argument("--reviewer", help="reviewer's name (recorded with the decision)")
    rv.add_argument("--reason", help="why (required for approve/reject)")
    rv.add_argument("--results", default="results", help="results folder (default: results)")
    rv.add_argument("--key", help="your Ed25519 private key (PEM) to sign the decision with (an approval must be "
                                  "signed); default $BTB_REVIEWER_KEY")
    rv.set_defaults(func=cmd_review)
    c = sub.add_parser("config", help="print the effective configuration (every key, defaults filled in)")
    c.add_argument("configfile", nargs="*", help="files laid over config/config.yaml, as 'btb run --configfile'")
    c.add_argument("--reference", action="store_true", help="every key, its default and meaning (Markdown)")
    c.set_defaults(func=cmd_config)
    d = sub.add_parser("demo", help="write the demo video")
    d.add_argument("out", nargs="?", default="resources/demo/demo.mp4")
    d.set_defaults(func=cmd_demo)
    sh = sub.add_parser("shard", help="split a large sample sheet into shards, each run in its own folder (plan "
                                      "and run 100,000 videos as many runs of a few thousand)")
    sh.add_argument("samples", help="sample sheet (TSV: video_id, path)")
    sh.add_argument("--size", type=int, default=5000, help="videos per shard (default 5000)")
    sh.add_argument("--out", default="shards", help="folder for the shard folders (default: shards)")
    sh.add_argument("--configfile", help="configuration YAML every shard runs with (copied, paths made absolute: "
                                      "all shards read the models staged once, by default in resources/models)")
    sh.add_argument("--profile", default="default", choices=sorted(p.name for p in (REPO / "profiles").iterdir()
                                                                   if p.is_dir()),
                    help="profile named in the printed commands (default: default)")
    sh.set_defaults(func=cmd_shard)
    t = sub.add_parser("test", help="run the test suite (arguments after '--' go to pytest)")
    t.set_defaults(func=cmd_test)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, extra))
    except BTBError as exc:
        print(f"btb: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
