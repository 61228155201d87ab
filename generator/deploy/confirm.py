"""The confirmation rules of every command that changes a running environment (``deploy``,
``rollback``), in one place: ``--yes`` skips the prompt; a protected environment needs the exact
name typed; an unprotected one y/N; no answer (stdin closed or absent) is a refusal."""
from __future__ import annotations


def ask(stdin, question: str, *, yes: bool, protected: bool, env: str, typed: str, noun: str = "stack name",
        verb: str = "execute") -> bool:
    """Whether the operator confirmed. ``question``: the y/N prompt of an unprotected environment;
    ``typed``: the name a protected environment needs (``noun`` says what it is, ``verb`` what it does)."""
    if yes:
        return True
    if protected:
        prompt = f"{env} is a protected environment: type the {noun} ({typed}) to {verb}: "
        expected = typed
    else:
        prompt = f"{question} [y/N] "
        expected = None
    print(prompt, end="", flush=True)
    answer = stdin.readline() if stdin is not None else ""
    if not answer:
        print()
        return False
    answer = answer.strip()
    return answer == expected if expected else answer.lower() in ("y", "yes")
