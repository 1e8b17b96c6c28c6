"""Every number a board formula uses, with its unit and the docs page that explains it.

SQL formulas read these through generated immutable functions ``phoenix.k_<name>()`` (see
``migrate.constants_sql``), so this module is the one place to change a number; ``phoenix-board
migrate`` re-applies them.
"""

from __future__ import annotations

# --- Leases and retries (docs/concepts/lifecycle.md) ----------------------------------------------
LEASE_SECONDS = 30.0  # s; a claim's lease, renewed by the claimant while it works
LEASE_MAX_SECONDS = 86_400.0  # s; the longest lease a claim may take or renew at a time
RETRY_BACKOFF_BASE_SECONDS = 5.0  # s; wait before attempt n+1 is base * 2^(n-1) ...
RETRY_BACKOFF_MAX_SECONDS = 600.0  # s; ... capped here
DEFAULT_MAX_ATTEMPTS = 3

# --- Review (docs/concepts/review.md) -------------------------------------------------------------
# A task in review waits for review_quorum verdicts from its team and the specialists of its
# category. Past REVIEW_WIDEN_SECONDS any live agent of any team may review it (and see it); past
# REVIEW_EXPIRE_SECONDS with no decision it fails for good, with that reason.
REVIEW_WIDEN_SECONDS = 300.0  # s after the result went to review
REVIEW_EXPIRE_SECONDS = 3600.0  # s after the result went to review
REVIEW_STALLED_SECONDS = 600.0  # s; the ReviewStalled alert's threshold (between the two above)
# A task that asks for a person (needs_person, docs/concepts/review.md#members) is not decided
# without a member's verdict; people answer in days, so it fails unreviewed only after this long,
# and the ReviewStalled figure leaves it out (the console lists it as waiting for people).
REVIEW_PERSON_EXPIRE_SECONDS = 7 * 86_400.0  # s after the result went to review

# --- History and the console (board/history.py, board/console.py) ---------------------------------
AGENT_HISTORY_SECONDS = 60.0  # s; the beat samples every agent's hormones and trust this often
AGENT_HISTORY_RETENTION_SECONDS = 14 * 86_400.0  # s; samples older than this are deleted
AGENT_HISTORY_POINTS_MAX = 2000  # points one series returns at most (longer ranges are thinned)
CONSOLE_WINDOW_SECONDS = 3600.0  # s; the console's failures and time in status cover the last hour

# --- Claim order (docs/concepts/ranking.md#claim-order) -------------------------------------------
PRIORITY_STEP_SECONDS = 600.0  # s; each priority step above 5 moves a task this far ahead
HOT_BOOST_SECONDS = 3600.0  # s per unit of hot score
HOT_BOOST_CAP = 1.0  # hot score counted at most this much, so the boost is bounded
DEADLINE_LEAD_SECONDS = 3600.0  # s; a task becomes "due" this long before its deadline
RANK_REFRESH_TOLERANCE = 0.01  # the refresh rewrites a stored rank only when it moved by more than 1 %

# --- Hormones (docs/concepts/hormones.md) ---------------------------------------------------------
BASELINE_DOPAMINE = 1.0  # seed baselines
BASELINE_OXYTOCIN = 1.0
BASELINE_ADRENALINE = 1.0
BASELINE_CORTISOL = 0.3
HORMONE_MIN = 0.0
HORMONE_MAX = 5.0
HORMONE_HALF_LIFE_SECONDS = 600.0  # s; decay toward baseline; PHOENIX_HORMONE_HALF_LIFE_SECONDS
DOPAMINE_PER_COMPLETION = 0.5  # x task.dopamine_reward x quality
CORTISOL_RELIEF_PER_COMPLETION = 0.1
CORTISOL_PER_FAILURE = 0.4  # failure, reopen after review, expired lease
DOPAMINE_LOSS_PER_FAILURE = 0.2
OXYTOCIN_PER_UPVOTE = 0.1  # to the task's author
CORTISOL_PER_DOWNVOTE = 0.05  # to the task's author
OXYTOCIN_PER_APPROVAL = 0.2  # review verdict +1, to the executor
CORTISOL_PER_REJECTION = 0.2  # review verdict -1, to the executor
ADRENALINE_PER_URGENT_CLAIM = 0.5  # x urgency in [0, 1], urgency = 1 - time_left / DEADLINE_LEAD
# Stress caps the task size an agent claims (docs/concepts/hormones.md).
STRESS_CORTISOL_MEDIUM = 0.8  # cortisol at or above: takes tasks of fibonacci_size <= 5
STRESS_CORTISOL_HIGH = 1.5  # cortisol at or above: takes tasks of fibonacci_size <= 2
STRESS_SIZE_MEDIUM = 5
STRESS_SIZE_HIGH = 2

# --- Trust: beta reputation with forgetting (docs/concepts/trust.md) ------------------------------
TRUST_FORGETTING = 0.98  # lambda: old evidence is multiplied by this at each new rating
TRUST_OUTCOME_WEIGHT = 1.0  # weight of a task outcome (completion quality, failure)
TRUST_CONSENSUS_WEIGHT = 0.5  # weight of agreeing / disagreeing with a review's consensus

# --- Consciousness (docs/concepts/beat.md#consciousness) ------------------------------------------
ACTIVE_AGENT_SECONDS = 30.0  # s; an agent with a heartbeat this recent is active
CONSCIOUSNESS_BASE = 100.0  # the seed's consciousness_level default
CONSCIOUSNESS_SPAN = 10.0  # consciousness = BASE + SPAN * weighted sum of three figures in [0, 1]
CONSCIOUSNESS_WEIGHT_TRUST = 0.4
CONSCIOUSNESS_WEIGHT_COHERENCE = 0.3
CONSCIOUSNESS_WEIGHT_SUCCESS = 0.3
CONSCIOUSNESS_THRESHOLD = 105.75  # the seed's alert threshold
DECISIONS_WINDOW_SECONDS = 60.0  # s; decisions per second are counted over this window
TIMELINE_RETENTION_DAYS = 30.0  # days of consciousness_timeline kept
# Retention and retry (docs/operations/retention.md, retry.md, decommission.md)
TASK_RETENTION_DAYS = 30.0  # days a finished task and its history are kept (PHOENIX_TASK_RETENTION_DAYS; 0: for ever)
# the shortest retention allowed: the longest window anything reads interactions over (the
# entanglement window, 7 days), so pruning never changes a live figure
TASK_RETENTION_MIN_DAYS = 7.0
PRUNE_BATCH = 50  # tasks (trees) per prune transaction: its locks last one batch (bench prune measures it)
AGENT_DECOMMISSION_AFTER_SECONDS = 86_400.0  # s of silence before the beat decommissions an agent (0: never)
BULK_ERRORS_SHOWN = 5  # refusals a bulk retry or cancel reports word for word

# --- Partners and supervisors (docs/concepts/partners.md) -----------------------------------------
PARTNERS_MAX = 3  # partners per agent; pairing is symmetric, so both sides count it
# A pair's shared record: interactions between the two (either direction, not cascades) within
# the window. entanglement_strength = (agreed + 1) / (n + 2) * n / (n + EVIDENCE_SCALE);
# coherence_time = last - first shared interaction.
ENTANGLEMENT_WINDOW_SECONDS = 7 * 86_400.0  # s
ENTANGLEMENT_EVIDENCE_SCALE = 5.0  # shared interactions at which the evidence factor is 1/2
ENTANGLEMENT_PAIR_MIN = 0.25  # strength from which a pair counts in the timeline's entanglement_pairs

# --- Hormone cascades (docs/concepts/cascades.md) -------------------------------------------------
# Spreading activation with decay: a receiver at hop d reached over edge weight w from a node that
# got delta gets delta * CASCADE_ATTENUATION * w (so |delta_d| <= |intensity| * ATTENUATION^d).
CASCADE_TRIGGER_DELTA = 0.4  # an event moving one hormone of an agent at least this much starts one
CASCADE_INTENSITY_MAX = 1.0  # |intensity| of an operator's cascade; the change at its sources
CASCADE_DEPTH_MAX = 2  # hops from the sources
CASCADE_FANOUT_MAX = 4  # receivers per spreading agent, strongest edges first
CASCADE_ATTENUATION = 0.5  # per hop
CASCADE_MIN_DELTA = 0.01  # smaller changes are not applied and spread no further
CASCADE_WEIGHT_PARTNER = 0.8  # edge weights (the contagion channel strength)
CASCADE_WEIGHT_HIERARCHY = 0.6  # supervisor <-> subordinate
CASCADE_WEIGHT_COLLABORATOR = 0.4  # an interaction between the two within the window below
CASCADE_COLLABORATOR_WINDOW_SECONDS = 86_400.0  # s
CASCADE_REFRACTORY_SECONDS = 60.0  # s; an agent synced for a hormone takes no other cascade of it
CASCADE_LOCK_TRIES = 50  # NOWAIT attempts on the reached agents before waiting in id order
CASCADE_PENDING_BATCH = 100  # event cascades spread per beat pass
CASCADE_BEAT_SECONDS = 5.0  # s; how often the beat spreads pending event cascades

# --- Limits (docs/errors.md) ----------------------------------------------------------------------
# Checked by board/models.py before any SQL; the tables' CHECK constraints repeat the ones that
# fit in SQL as the last line of defence.
TITLE_MAX = 200  # characters; at least 1
DESCRIPTION_MAX = 10_000  # characters
COMMENT_MAX = 10_000  # characters; at least 1
COMMENT_DEPTH_MAX = 8  # a top-level comment has depth 0
REASON_MAX = 1000  # characters: a vote's, a review's or a failure's reason
NAME_MAX = 63  # characters: team and category names (PostgreSQL's identifier length)
CODENAME_MAX = 100  # characters
ROLE_MAX = 100  # characters
SPECIALIZATIONS_MAX = 20  # names per agent, each at most ROLE_MAX characters
IDEMPOTENCY_KEY_MAX = 200  # characters
PAYLOAD_MAX_BYTES = 65_536  # JSON payload / output, serialised as UTF-8
PAYLOAD_DEPTH_MAX = 32  # nested objects and arrays; PostgreSQL's JSON parser recurses per level
PAYLOAD_NUMBER_MAX = 1.7976931348623157e308  # the largest double: what JSON readers can hold
# The database's own bound on a stored payload or output (a trigger on phoenix.tasks), measured on
# PostgreSQL's text form of the jsonb: it writes numbers in full (1e308 is 309 digits) and a space
# after every , and :, so a document within PAYLOAD_MAX_BYTES as compact JSON can be up to ~45
# times longer there; 4 MiB leaves room for that and still refuses a 20 MB one.
PAYLOAD_STORED_MAX_BYTES = 4 * 1024 * 1024  # bytes of jsonb::text
# Every time the board stores comes before this (9999-01-01T00:00:00Z, in Unix seconds): Python
# reads no year past 9999, and a year's margin keeps derived times (deadline leads, backoffs) and
# their display in any zone readable. PostgreSQL would store year 10000 and break every reader.
TIME_MAX_EPOCH_SECONDS = 253_370_764_800.0
DEPENDS_ON_MAX = 50
CONCURRENCY_LIMIT_MAX = 10_000  # tasks of one concurrency key in flight (docs/concepts/flow-control.md)
PRIORITY_MIN = 1
PRIORITY_MAX = 10
MAX_ATTEMPTS_MAX = 100
DOPAMINE_REWARD_MAX = 10.0
REVIEW_QUORUM_MAX = 15
ATTEMPT_MAX = 2_147_483_647  # the integer column that holds the fencing token
PAGE_SIZE_MAX = 500
CURSOR_MAX = 500  # characters of a listing cursor
BATCH_MAX = 1000  # submissions in one submit_many message
ERROR_MESSAGE_MAX = 300  # characters of an error's one line; longer ones end in "..."
FIBONACCI_SIZES = (1, 2, 3, 5, 8, 13, 21)

# --- Delegation (docs/concepts/delegation.md) -----------------------------------------------------
DELEGATION_CHILDREN_MAX = 1000  # children one delegate call may create (Temporal's advice per parent)
DELEGATION_DESCENDANTS_MAX = 10_000  # descendants a root may have over its lifetime, retries included
DELEGATION_DEPTH_MAX = 5  # a root is depth 0; its children 1; deeper delegation is refused
DELEGATION_PREFERRED_SECONDS = 10.0  # s; children go to the delegator's subordinates first, and a
#   joined parent to its delegator (or, escalated, to the delegator's supervisor) for this long
TRUST_DELEGATION_WEIGHT = 0.5  # evidence for the delegator's choice, per parent attempt, split
#   between r and s by the share of its children that succeeded (below TRUST_OUTCOME_WEIGHT:
#   the executors did the work)

# Names exported to SQL as phoenix.k_<lower name>() (numbers only).
SQL_EXPORTS = (
    "RETRY_BACKOFF_BASE_SECONDS",
    "RETRY_BACKOFF_MAX_SECONDS",
    "PRIORITY_STEP_SECONDS",
    "HOT_BOOST_SECONDS",
    "HOT_BOOST_CAP",
    "RANK_REFRESH_TOLERANCE",
    "DEADLINE_LEAD_SECONDS",
    "BASELINE_DOPAMINE",
    "BASELINE_OXYTOCIN",
    "BASELINE_ADRENALINE",
    "BASELINE_CORTISOL",
    "HORMONE_MIN",
    "HORMONE_MAX",
    "DOPAMINE_PER_COMPLETION",
    "CORTISOL_RELIEF_PER_COMPLETION",
    "CORTISOL_PER_FAILURE",
    "DOPAMINE_LOSS_PER_FAILURE",
    "OXYTOCIN_PER_UPVOTE",
    "CORTISOL_PER_DOWNVOTE",
    "OXYTOCIN_PER_APPROVAL",
    "CORTISOL_PER_REJECTION",
    "ADRENALINE_PER_URGENT_CLAIM",
    "STRESS_CORTISOL_MEDIUM",
    "STRESS_CORTISOL_HIGH",
    "STRESS_SIZE_MEDIUM",
    "STRESS_SIZE_HIGH",
    "TRUST_FORGETTING",
    "TRUST_OUTCOME_WEIGHT",
    "TRUST_CONSENSUS_WEIGHT",
    "COMMENT_DEPTH_MAX",
    "DEPENDS_ON_MAX",
    "PAYLOAD_DEPTH_MAX",
    "PAYLOAD_STORED_MAX_BYTES",
    "TIME_MAX_EPOCH_SECONDS",
    "LEASE_MAX_SECONDS",
    "ACTIVE_AGENT_SECONDS",
    "REVIEW_WIDEN_SECONDS",
    "REVIEW_EXPIRE_SECONDS",
    "REVIEW_PERSON_EXPIRE_SECONDS",
    "CONSCIOUSNESS_BASE",
    "CONSCIOUSNESS_SPAN",
    "CONSCIOUSNESS_WEIGHT_TRUST",
    "CONSCIOUSNESS_WEIGHT_COHERENCE",
    "CONSCIOUSNESS_WEIGHT_SUCCESS",
    "DECISIONS_WINDOW_SECONDS",
    "DELEGATION_CHILDREN_MAX",
    "DELEGATION_DESCENDANTS_MAX",
    "DELEGATION_DEPTH_MAX",
    "DELEGATION_PREFERRED_SECONDS",
    "TRUST_DELEGATION_WEIGHT",
    "PARTNERS_MAX",
    "ENTANGLEMENT_WINDOW_SECONDS",
    "ENTANGLEMENT_EVIDENCE_SCALE",
    "ENTANGLEMENT_PAIR_MIN",
    "CASCADE_TRIGGER_DELTA",
    "CASCADE_INTENSITY_MAX",
    "CASCADE_DEPTH_MAX",
    "CASCADE_FANOUT_MAX",
    "CASCADE_ATTENUATION",
    "CASCADE_MIN_DELTA",
    "CASCADE_WEIGHT_PARTNER",
    "CASCADE_WEIGHT_HIERARCHY",
    "CASCADE_WEIGHT_COLLABORATOR",
    "CASCADE_COLLABORATOR_WINDOW_SECONDS",
    "CASCADE_REFRACTORY_SECONDS",
    "CASCADE_LOCK_TRIES",
    # the bounds of the row checks (sql/functions/06_task_limits.sql)
    "TITLE_MAX",
    "DESCRIPTION_MAX",
    "IDEMPOTENCY_KEY_MAX",
    "CONCURRENCY_LIMIT_MAX",
    "PRIORITY_MIN",
    "PRIORITY_MAX",
    "MAX_ATTEMPTS_MAX",
    "DOPAMINE_REWARD_MAX",
    "REVIEW_QUORUM_MAX",
    "ROLE_MAX",
)

# --- Event stream (docs/concepts/event-stream.md) -------------------------------------------------
# Retention per topic, by age (the seed's Kafka retentions): entries older than this are trimmed
# from the Redis stream (XADD ... MINID ~) and published rows from the outbox.
STREAM_RETENTION_SECONDS = {
    "agent.heartbeat": 86_400.0,  # 1 d
    "task.created": 7 * 86_400.0,  # 7 d
    "task.completed": 30 * 86_400.0,  # 30 d
    "task.updated": 86_400.0,  # 1 d; every status change, for the API's subscriptions and waits
    "task.voted": 3_600.0,  # 1 h; votes on a task or its comments, for open pages (the counts are in the row)
    "task.commented": 86_400.0,  # 1 d; comments and replies, for open pages
    "consciousness.update": 3_600.0,  # 1 h
    "hormone.cascade": 3_600.0,  # 1 h
}
STREAM_DLQ_RETENTION_SECONDS = 30 * 86_400.0  # s; dead letters wait for a person, so they stay long
STREAM_MAX_DELIVERIES = 5  # deliveries of one entry before it goes to <topic>.dlq
STREAM_VISIBILITY_TIMEOUT_SECONDS = 60.0  # s; an entry pending this long with a consumer is reclaimed
STREAM_RELAY_BATCH = 500  # rows per relay pass: one XADD pipeline, one UPDATE

# --- ids people type (docs/guide.md) --------------------------------------------------------------
SHORT_ID_MIN = 7  # hex digits shown of an id's end, the random part of a UUIDv7: 28 bits, so
# two of 100,000 tasks share a 7-digit tail about once in 2,700 tries; shown ids grow past 7 as
# git's do when two shown rows would share one, and a typed tail that matches two ids is refused
SHORT_ID_TYPED_MIN = 4  # hex digits a typed fragment needs; fewer would match half the board
SHORT_ID_CANDIDATES_SHOWN = 5  # an ambiguous fragment's error lists at most this many matches

# --- health as `doctor` and the live view show it (docs/guide.md) ---------------------------------
DEAD_AGENTS_SHOWN = 10  # `doctor` names at most this many dead agents, then counts the rest
BEAT_STALE_PERIODS = 3.0  # a beat job not started for this many of its periods is "stale": the
# beat is stopped or stuck (one missed tick is normal when a run overlaps the next)
BEAT_STALE_GRACE_SECONDS = 10.0  # s; added to that bound, so short periods do not flap at start

# The beat's task_counts job period (docs/operations/metrics.md): deltas between folds stay a few hundred rows
# even at 100 transitions/s.
TASK_COUNTS_SECONDS = 5.0

# --- Schedules (docs/concepts/schedules.md) -------------------------------------------------------
SCHEDULE_TICK_SECONDS = 2.0  # s; the beat's schedules job: how late a slot fires at most, the beat running
SCHEDULE_CATCH_UP_MAX = 100  # catch-up `all` fires at most this many due slots (the latest) per tick
SCHEDULE_ON_TIME_SECONDS = 60.0  # s; catch-up `none` fires a slot found at most this late, else skips it
SCHEDULE_SCAN_MAX = 10_000  # due slots counted one by one; past this the latest is found backwards
SCHEDULE_RUNS_KEEP_SECONDS = 7 * 86_400.0  # s; runs fired longer ago are forgotten by the beat
SCHEDULE_RUNS_PRUNE_BATCH = 1000  # runs forgotten per tick at most
SCHEDULE_LAG_ALERT_SECONDS = 120.0  # s; the ScheduleMissedSlots alert's threshold
SCHEDULE_NAME_MAX = 64  # characters
SCHEDULE_CRON_MAX = 200  # characters
