"""The long instruction (writer) and the short, human-style one (rewriter)."""

from __future__ import annotations

from editforge import taxonomy
from editforge.models.base import Rewriter, Writer, WriteRequest
from editforge.records import Instruction, Photo, Task
from editforge.stages.io import ImageIO


def write_instruction(writer: Writer, task: Task, photo: Photo, images: ImageIO) -> Instruction:
    """Raises ModelCallError when the writer cannot write for this photo and type."""
    request = WriteRequest(
        image=images.get(task.input_image),
        edit_type=taxonomy.get(task.edit_type),
        seed=task.seed,
        facts=photo.facts,
        history=list(task.history),
    )
    reply = writer.write(request)
    return Instruction(
        task_id=task.task_id,
        kind="long",
        text=reply.text.strip(),
        model=writer.ref,
        raw_reply=reply.raw,
        usage=reply.usage,
        labels=reply.labels,
    )


def rewrite_instruction(rewriter: Rewriter, task: Task, long: Instruction) -> Instruction:
    reply = rewriter.rewrite(long.text, taxonomy.get(task.edit_type), task.seed)
    return Instruction(
        task_id=task.task_id,
        kind="short",
        text=reply.text.strip(),
        model=rewriter.ref,
        raw_reply=reply.raw,
        usage=reply.usage,
    )
