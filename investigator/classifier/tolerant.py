"""Tolerant matching by construction: every playbook regex is rewritten once, at build time.

Real logs print the same error in many shapes: ``ValueError:msg`` or ``ValueError : msg``,
``runtimeerror`` from a lower-casing logger, and behind prefixes a launcher or a copy-paste
added (``2024-05-01 12:00:00,123 ``, ``[rank3]:``, ``[1,0]<stderr>:``, ``algo-1-abcd | ``,
``> `` quoting, ``(RayTrainWorker pid=12, ip=10.0.0.1)``). Instead of asking every rule
author to spell all of them, the library compiles each pattern through `tolerant()`:

* case-insensitive, unless the rule (or the pattern) sets ``case_sensitive: true``; a
  character class naming one case only (``[A-Z]``) keeps its case;
* a literal ``": "`` accepts any spacing around the colon (``:``, `` : ``, ``:  ``);
* a pattern anchored with a leading ``^`` accepts any run of known line prefixes first;
* a ``$`` accepts a carriage return before the line end (CRLF logs).

ANSI colour codes are removed from the text by the scanner (they can sit mid-line).
The rewrite only adds RE2 constructs, so patterns stay linear-time.
"""

from __future__ import annotations

# Line prefixes added by loggers, launchers and copy-paste; any run of them may precede the
# text a `^`-anchored pattern expects. Kept in one place so every rule gets the same set.
LINE_PREFIXES = (
    r"[ \t]+",
    r"(?:>[ \t]?)+",  # Markdown quoting in issues and mails
    r"`{1,3}[ \t]*",  # Markdown inline code or a code fence opened on the log's first line
    # timestamps: ISO 8601 / Python logging / bracketed / GitHub Actions / syslog time
    r"\[?\d{4}[-/]\d\d[-/]\d\d"
    r"(?:[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?\]?[ \t]*",
    r"\[?\d\d[-/]\d\d[-/]\d{2,4}[ ,]\d\d:\d\d:\d\d(?:[.,]\d+)?\]?[ \t]*",
    r"\[?\d\d:\d\d:\d\d(?:[.,]\d+)?\]?[ \t]+",
    # glog-style level/time/thread/file header (E0612 10:05:38.123456 1234 file.cc:12] )
    r"[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [\w./-]+:\d+\][ \t]*",
    r"\[rank\d+\]:[ \t]*",  # torch.distributed per-rank prefix
    r"\[default\d+\]:[ \t]*",  # torchrun --tee
    r"\[\d+,\d+\]<std(?:out|err)>:",  # mpirun / SageMaker MPI
    r"\[1,\d+\]:",
    r"\[\d+\]<std(?:out|err)>:",  # horovodrun with its gloo controller
    r"\d{1,5}: ",  # srun --label (srun(1): the task number before each line)
    # docker compose / SageMaker local mode: "algo-1-abcd | ", "web_1  | ", "trainer-1 | "
    r"[\w.]*[-_]\d+(?:-\w+)?[ \t]*\|[ \t]*",
    r"\((?:\w+ )?pid=\d+(?:, ip=[\d.]+)?\)[ \t]*",  # Ray worker output
    r"\[pod/[^\]\n]+\][ \t]*",  # kubectl logs --prefix
    r"#\d+ \d+(?:\.\d+)?[ \t]+",  # docker BuildKit's plain progress: "#7 278.8 E: ..."
)
PREFIX = "(?:" + "|".join(LINE_PREFIXES) + ")*"


def tolerant(regex: str, *, case_sensitive: bool = False) -> str:
    """The regex the scanner compiles for a playbook pattern (see the module docstring)."""
    body = _rewrite(regex)
    return body if case_sensitive else f"(?i){body}"


def _rewrite(rx: str) -> str:
    out: list[str] = []
    i, n = 0, len(rx)
    while i < n:
        c = rx[i]
        if c == "\\":
            out.append(rx[i : i + 2])
            i += 2
        elif c == "[":
            j = _class_end(rx, i)
            out.append(_keep_case(rx[i:j]))
            i = j
        elif c == "(" and rx.startswith("(?", i):
            j = _group_head_end(rx, i)
            out.append(rx[i:j])
            i = j
        elif c == "^" and _at_start(out):
            out.append("^" + PREFIX)
            i += 1
        elif c == "$":
            out.append(r"\r?$")
            i += 1
        elif c == ":" and (i + 1 == n or rx[i + 1] in " $"):
            i += 1
            while i < n and rx[i] == " ":
                i += 1
            if i < n and rx[i] in "*+?{":  # a quantifier on the space we absorbed
                i = _quantifier_end(rx, i)
            out.append(r"[ \t]*:[ \t]*")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _keep_case(cls: str) -> str:
    """A class naming one case only ([A-Z], [a-z_]) says case matters there: keep it."""
    upper, lower = "A-Z" in cls, "a-z" in cls
    return f"(?-i:{cls})" if upper != lower else cls


def _at_start(out: list[str]) -> bool:
    """Only a leading ^ (after flag groups such as (?i)) anchors the whole line."""
    return all(part.startswith("(?") and part.endswith(")") for part in out)


def _class_end(rx: str, i: int) -> int:
    """Index just past the character class starting at rx[i] == '['."""
    j = i + 1
    if j < len(rx) and rx[j] == "^":
        j += 1
    if j < len(rx) and rx[j] == "]":
        j += 1
    while j < len(rx):
        if rx[j] == "\\":
            j += 2
            continue
        if rx.startswith("[:", j):
            k = rx.find(":]", j + 2)
            j = k + 2 if k != -1 else j + 1
            continue
        if rx[j] == "]":
            return j + 1
        j += 1
    return len(rx)


def _group_head_end(rx: str, i: int) -> int:
    """Index just past a group's head: `(?:`, `(?i)`, `(?i:`, `(?P<name>`."""
    j = i + 2
    if rx.startswith("P<", j):
        return rx.index(">", j) + 1
    while j < len(rx) and (rx[j].isalpha() or rx[j] == "-"):
        j += 1
    return min(j + 1, len(rx))  # the ':' or ')' that ends the head


def _quantifier_end(rx: str, i: int) -> int:
    if rx[i] == "{":
        k = rx.find("}", i)
        i = k + 1 if k != -1 else i + 1
    else:
        i += 1
    if i < len(rx) and rx[i] == "?":  # lazy
        i += 1
    return i
