"""Debian package long descriptions (English), from apt's Translation-en lists.

Needs `apt-get update -o Acquire::Languages=en` once. Each description becomes one text:
the synopsis, a newline, then the continuation lines without their leading space
(a lone "." line is a blank line), exactly as a user of the package database would see it.
"""
import glob
import subprocess


def translation_files():
    """The Translation-en lists apt holds, sorted by name (so every reader sees the same order)."""
    files = sorted(glob.glob("/var/lib/apt/lists/*Translation-en*"))
    if not files:
        raise SystemExit("no Translation-en lists; run: apt-get update -o Acquire::Languages=en")
    return files


def read_entries():
    """Every (package, description) entry of every list, in file order, duplicates included."""
    out = []
    for f in translation_files():
        raw = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", f], check=True, capture_output=True).stdout
        text = raw.decode("utf-8", errors="replace")
        package = None
        current = None
        for line in text.split("\n"):
            if line.startswith("Description-en: "):
                current = [line[len("Description-en: "):]]
            elif current is not None and line.startswith(" "):
                current.append("" if line == " ." else line[1:])
            else:
                if current is not None:
                    out.append((package, "\n".join(current)))
                current = None
                if line.startswith("Package: "):
                    package = line[len("Package: "):]
                elif line == "":
                    package = None
        if current is not None:
            out.append((package, "\n".join(current)))
    return out


def read_descriptions():
    """The distinct descriptions, in first-seen order."""
    seen = set()
    out = []
    for _, desc in read_entries():
        if desc not in seen:
            seen.add(desc)
            out.append(desc)
    return out
