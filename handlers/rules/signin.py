"""Signing in to the desk's web workspace: what a password must be, and how long signing in
is refused after wrong ones (guessing a password a few at a time stays slow)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class SignInPolicy:
    free_failures: int = 3  # wrong passwords in a row before signing in is refused a while
    first_lock: timedelta = timedelta(seconds=30)  # then refused this long, doubling
    max_lock: timedelta = timedelta(minutes=15)
    min_length: int = 10


def locked_for(failures: int, policy: SignInPolicy = SignInPolicy()) -> timedelta:
    """How long signing in is refused after `failures` wrong passwords in a row."""
    if failures < policy.free_failures:
        return timedelta(0)
    doubling = min(failures - policy.free_failures, 16)
    return min(policy.first_lock * 2**doubling, policy.max_lock)


def password_problem(password: str, policy: SignInPolicy = SignInPolicy()) -> str | None:
    """Why a new password will not do (a sentence for the person setting it), or None."""
    if len(password) < policy.min_length:
        return f"at least {policy.min_length} characters, please"
    if len(set(password)) < 4:
        return "too easy to guess: use more different characters"
    if password.strip() != password:
        return "no spaces at the start or the end"
    return None
