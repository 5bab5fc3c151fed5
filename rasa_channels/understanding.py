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
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.trackers import DialogueStateTracker

log = logging.getLogger(__name__)

_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embudo-nlu")


def _parse(processor: Any, message: UserMessage) -> dict[str, Any]:
    """What ``MessageProcessor.parse_message`` returns for the graph's NLU, in this thread. Our NLU reads
    no tracker (its components take messages only), so an empty one stands in, as Rasa's own does when
    it parses without one."""
    tracker = DialogueStateTracker.from_events(message.sender_id, [])
    parse_data: dict[str, Any] = processor._parse_message_with_graph(message, tracker)
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
        message.parse_data = await loop.run_in_executor(_worker, _parse, processor, message)
    except Exception:
        log.exception("could not understand the message of %s off the event loop", message.sender_id)
