"""Fixed limits of the label-schema format. The document size is operator-configurable
(`projects.config.label_schema_max_bytes`); these counts are part of the format and change only with it."""

import re

# Field and criterion names are keys of annotation results and column names in exports.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
# A `source` names one top-level key of a task's data; the same spelling Label Studio accepts after `$`.
SOURCE_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")

MIN_FIELDS, MAX_FIELDS = 1, 50
MIN_OPTIONS, MAX_OPTIONS = 2, 200
MIN_LABELS, MAX_LABELS = 1, 200
MIN_CRITERIA, MAX_CRITERIA = 1, 30
# Options, region labels, display labels and rating-point labels.
MAX_LABEL_LENGTH = 200
CRITERION_NAME_MAX_LENGTH = 64

# Rating and rubric scales: `max - min` at most this, both ends within SCALE_BOUND of zero.
MAX_SCALE_SPAN = 100
SCALE_BOUND = 1_000_000

TEXT_DEFAULT_MAX_LENGTH = 10_000
TEXT_MAX_LENGTH_CEILING = 100_000
RATIONALE_MAX_LENGTH = 10_000
PAIRWISE_STRENGTHS = (1, 2, 3)
PAIRWISE_TIE = "tie"
RATIONALE_MODES = ("none", "optional", "required")

# Chat fields: the model connections one prompt goes to, the turns of one conversation, the sub-fields asked
# per turn and the length of a connection name, a system prompt and one prompt.
CHAT_CONNECTIONS = (1, 4)
CHAT_TURNS = (1, 20)
CHAT_DEFAULT_MAX_TURNS = 5
CHAT_MAX_TURN_FIELDS = 10
CHAT_TURN_FIELD_TYPES = ("rating", "choices", "text")
CHAT_CONNECTION_NAME_MAX_LENGTH = 100
CHAT_SYSTEM_PROMPT_MAX_LENGTH = 20_000
CHAT_PROMPT_MAX_LENGTH = 20_000

# Steps fields: verdicts are answered by the digits 1-9, so at most nine; the roles of an agent trajectory's steps;
# the steps one task may hold.
STEP_VERDICTS = (2, 9)
STEP_COMMENT_MODES = ("none", "optional", "required_on_incorrect")
STEP_ROLES = ("assistant", "tool", "user", "system")
MAX_STEPS = 500

# Regions in one value of a spans or boxes field.
MAX_REGIONS = 10_000
# Box edges may exceed the image by this many pixels: clients that store percentages round on the way back.
BOX_EDGE_TOLERANCE = 1e-6

# Task data shapes.
PAIRWISE_CANDIDATES = (2, 2)
RANKING_CANDIDATES = (2, 20)
CANDIDATE_ID_MAX_LENGTH = 128
IMAGE_MAX_SIDE = 100_000
IMAGE_URL_SCHEMES = ("http", "https", "s3")
CHAT_ROLES = ("system", "user", "assistant")

# Label Studio labelling configs: bytes of XML and elements in one config.
LABEL_CONFIG_MAX_BYTES = 512 * 1024
LABEL_CONFIG_MAX_ELEMENTS = 5_000
