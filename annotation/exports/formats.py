"""Each export format and the writer that produces it."""

from annotation.exports.base import ExportWriter
from annotation.exports.chat_tree import ChatTreeWriter
from annotation.exports.coco import CocoWriter
from annotation.exports.conll import ConllWriter
from annotation.exports.csv_table import CsvWriter
from annotation.exports.dpo import DpoWriter
from annotation.exports.jsonl import JsonlWriter
from annotation.exports.label_studio import LabelStudioWriter
from annotation.exports.prm import PrmWriter
from annotation.exports.sft import SftWriter
from projects.models import ExportFormat

WRITERS: dict[str, type[ExportWriter]] = {
    ExportFormat.JSONL: JsonlWriter,
    ExportFormat.CSV: CsvWriter,
    ExportFormat.COCO: CocoWriter,
    ExportFormat.CONLL: ConllWriter,
    ExportFormat.DPO: DpoWriter,
    ExportFormat.SFT: SftWriter,
    ExportFormat.LABEL_STUDIO: LabelStudioWriter,
    ExportFormat.PRM: PrmWriter,
    ExportFormat.CHAT_TREE: ChatTreeWriter,
}


def export_filename(*, export_uuid: object, export_format: str) -> str:
    """The file's name: `export-<export id>.<extension>` (the extension names the format)."""
    return f"export-{export_uuid}.{WRITERS[export_format].extension}"
