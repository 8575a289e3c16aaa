#!/usr/bin/env python3
"""Rewrites the output of every ```console block in book/src/*.md and
README.md with what the freshly built taskrun prints, the way the test
`every_console_block_in_the_book_matches_the_binary` runs it: one shell per
block, in a fresh directory holding an `examples` link, shown as
/home/me/project, with TZ=UTC.

    cargo build && book/update-transcripts.py && git diff

Review the diff: this is for when the output changed on purpose.
"""
import os, pathlib, re, subprocess, tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHOWN = "/home/me/project"
BIN = ROOT / "target" / "debug"


def run(commands):
    with tempfile.TemporaryDirectory() as project:
        os.symlink(ROOT / "examples", pathlib.Path(project) / "examples")
        env = {k: v for k, v in os.environ.items() if k not in ("TASKRUN_DB", "NO_COLOR")}
        env.update(PATH=f"{BIN}:{env.get('PATH', '')}", TZ="UTC")
        script = "exec 2>&1\n" + "\n".join(commands) + "\n"
        out = subprocess.run(["/bin/sh", "-c", script], cwd=project, env=env,
                             capture_output=True, text=True).stdout
        return out.replace(project, SHOWN)


def rewrite(path):
    text = path.read_text()
    def block(match):
        lines = match.group(1).splitlines()
        commands = [line[2:] for line in lines if line.startswith("$ ")]
        if len(commands) == 1:
            return "```console\n$ " + commands[0] + "\n" + run(commands) + "```"
        # One shell prints the outputs of all commands together; to place
        # each under its command, run every prefix of the block in a fresh
        # directory and take what the last command added.
        pieces = [run(commands[: i + 1]) for i in range(len(commands))]
        shown, previous = [], ""
        for command, upto in zip(commands, pieces):
            shown.append("$ " + command + "\n" + upto[len(previous):])
            previous = upto
        return "```console\n" + "".join(shown) + "```"
    new = re.sub(r"```console\n(.*?)```", block, text, flags=re.S)
    if new != text:
        path.write_text(new)
        print(f"updated {path.relative_to(ROOT)}")


for page in sorted((ROOT / "book" / "src").glob("*.md")) + [ROOT / "README.md"]:
    rewrite(page)
