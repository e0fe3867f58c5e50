"""A learner's rows are read once and reused until one of them changes, in this process or another; with Redis
out of reach nothing is reused and nothing fails."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import redis

from comms_lab import learner_state
from comms_lab.learners import Learner
from lessons import services
from lessons.models import LessonProgress
from tests.support.processes import ROOT

pytestmark = pytest.mark.django_db


class Reader:
    """Stands in for a page's database read: counts how often it was asked."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        return self.reads


def anonymous() -> Learner:
    return Learner(user_id=None, anonymous_id=uuid.uuid4().hex)


def test_a_learners_rows_are_read_once_until_one_of_them_is_saved(redis_server: redis.Redis) -> None:
    learner, read = anonymous(), Reader()
    assert [learner_state.remembered(learner, "lessons", read) for _ in range(3)] == [1, 1, 1]
    services.record_reading(learner=learner, slug="sagas", seconds=30)
    assert [learner_state.remembered(learner, "lessons", read) for _ in range(2)] == [2, 2]


def test_deleting_a_row_counts_as_a_change(redis_server: redis.Redis) -> None:
    learner, read = anonymous(), Reader()
    services.record_reading(learner=learner, slug="sagas", seconds=30)
    assert learner_state.remembered(learner, "lessons", read) == 1
    LessonProgress.objects.filter(anonymous_id=learner.anonymous_id).delete()
    assert learner_state.remembered(learner, "lessons", read) == 2


def test_another_learners_change_leaves_this_learners_rows_reused(redis_server: redis.Redis) -> None:
    learner, read = anonymous(), Reader()
    assert learner_state.remembered(learner, "lessons", read) == 1
    services.record_reading(learner=anonymous(), slug="sagas", seconds=30)
    assert learner_state.remembered(learner, "lessons", read) == 1


def test_a_change_made_in_another_process_is_seen_here(redis_server: redis.Redis) -> None:
    learner, read = anonymous(), Reader()
    assert learner_state.remembered(learner, "lessons", read) == 1
    forget = f"import django; django.setup(); from comms_lab.learner_state import forget; forget({learner.key!r})"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "comms_lab.settings"}
    subprocess.run([sys.executable, "-c", forget], cwd=ROOT, check=True, env=env)
    assert learner_state.remembered(learner, "lessons", read) == 2


def test_a_visitor_who_has_done_nothing_is_never_remembered(redis_server: redis.Redis) -> None:
    read = Reader()
    nobody = Learner(user_id=None, anonymous_id="")
    assert [learner_state.remembered(nobody, "lessons", read) for _ in range(2)] == [1, 2]


def test_without_redis_every_view_reads_the_database_and_nothing_fails(redis_out_of_reach: None) -> None:
    learner, read = anonymous(), Reader()
    assert [learner_state.remembered(learner, "lessons", read) for _ in range(3)] == [1, 2, 3]
    services.record_reading(learner=learner, slug="sagas", seconds=30)  # the write's forget() fails quietly
    assert LessonProgress.objects.get(anonymous_id=learner.anonymous_id).read_seconds == 30
