"""Debian package long descriptions (English), from apt's Translation-en lists.

Needs `apt-get update -o Acquire::Languages=en` once. Each description becomes one text:
the synopsis, a newline, then the continuation lines without their leading space
(a lone "." line is a blank line), exactly as a user of the package database would see it.
"""
import glob
import subprocess


def read_descriptions():
    files = sorted(glob.glob("/var/lib/apt/lists/*Translation-en*"))
    if not files:
        raise SystemExit("no Translation-en lists; run: apt-get update -o Acquire::Languages=en")
    seen = set()
    out = []
    for f in files:
        raw = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", f], check=True, capture_output=True).stdout
        text = raw.decode("utf-8", errors="replace")
        current = None
        for line in text.split("\n"):
            if line.startswith("Description-en: "):
                current = [line[len("Description-en: "):]]
            elif current is not None and line.startswith(" "):
                current.append("" if line == " ." else line[1:])
            else:
                if current is not None:
                    desc = "\n".join(current)
                    if desc not in seen:
                        seen.add(desc)
                        out.append(desc)
                current = None
        if current is not None:
            desc = "\n".join(current)
            if desc not in seen:
                seen.add(desc)
                out.append(desc)
    return out
