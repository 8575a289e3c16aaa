#!/usr/bin/env python3
"""Rewrites the output of every ```console block in book/src/*.md and
README.md with what the freshly built taskrun prints, the way the test
`every_console_block_in_the_book_matches_the_binary` runs it: one shell per
block, in a fresh directory holding an `examples` link, shown as
/home/me/project, with TZ=UTC. The machine's name, which a JUnit report
holds, is shown as build-host (the test masks it).

    cargo build && book/update-transcripts.py && git diff

Review the diff: this is for when the output changed on purpose.
"""
import os, pathlib, re, socket, subprocess, tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHOWN = "/home/me/project"
SHOWN_HOST = "build-host"
BIN = ROOT / "target" / "debug"


def run(commands):
    with tempfile.TemporaryDirectory() as project:
        os.symlink(ROOT / "examples", pathlib.Path(project) / "examples")
        env = {k: v for k, v in os.environ.items() if k not in ("TASKRUN_DB", "NO_COLOR")}
        env.update(PATH=f"{BIN}:{env.get('PATH', '')}", TZ="UTC")
        script = "exec 2>&1\n" + "\n".join(commands) + "\n"
        out = subprocess.run(["/bin/sh", "-c", script], cwd=project, env=env,
                             capture_output=True, text=True).stdout
        out = out.replace(f'hostname="{socket.gethostname()}"', f'hostname="{SHOWN_HOST}"')
        return out.replace(project, SHOWN)


def rewrite(path):
    text = path.read_text()
    def block(match):
        lines = match.group(1).splitlines()
        commands = [line[2:] for line in lines if line.startswith("$ ")]
        # The block runs once, in one shell, as the test runs it; a marker
        # line before each command splits the output among the commands.
        # (Running each prefix of the block again would show outputs of
        # different runs side by side: times that do not fit together.)
        marker = "\x1etaskrun-transcript-marker"
        marked = []
        for command in commands:
            # `$?` is kept across the marker, for `$ echo $?`.
            marked += [f"__status=$?; printf '%s\\n' '{marker}'; (exit $__status)", command]
        pieces = run(marked).split(marker + "\n")[1:]
        shown = ["$ " + command + "\n" + piece for command, piece in zip(commands, pieces)]
        return "```console\n" + "".join(shown) + "```"
    new = re.sub(r"```console\n(.*?)```", block, text, flags=re.S)
    if new != text:
        path.write_text(new)
        print(f"updated {path.relative_to(ROOT)}")


for page in sorted((ROOT / "book" / "src").glob("*.md")) + [ROOT / "README.md"]:
    rewrite(page)
