"""The demo clinic's patients (`blocktrack demo`): one story each, chosen to show every level status.

Times are days before today at 09:30 in the clinic's zone; a block's diary is scores at DIARY_MINUTES.
"""

from dataclasses import dataclass

DIARY_MINUTES = (15, 30, 45, 60, 120, 180, 240, 300, 360, 420, 480)  # common MBB diary time points
RFA = "radiofrequency_ablation"


@dataclass
class Side:
    """One side's diary for a block: the pre-block score and post scores at DIARY_MINUTES (cut short)."""

    side: str | None
    baseline: int
    scores: list[int]


@dataclass
class FollowUp:
    """An ablation's follow-up diary: the score before it, then (days after, score)."""

    baseline: int
    scores: list[tuple[int, int]]


@dataclass
class DemoBlock:
    days_ago: int
    agent: str
    joints: list[str]
    target_side: str
    diaries: list[Side]
    pain_scale: str = "nrs"
    concentration_pct: float = 2.0
    procedure: str = "medial_branch_block"
    sedation: str = "none"
    guidance: str = "fluoroscopy"
    override: str | None = None  # CR-24: a clinician's coverage override, with its reason
    follow_up: FollowUp | None = None  # CR-28: an ablation's follow-up diary


@dataclass
class DemoPatient:
    mrn: str
    name: str
    birth_date: str
    story: str
    blocks: list[DemoBlock]


R = [1, 1, 1, 1]  # four early readings at 87.5% relief or better from a baseline of 8
PATIENTS = [
    DemoPatient(
        "DEMO-1001",
        "Maria Alvarez",
        "1961-04-12",
        "comparative lidocaine then bupivacaine blocks, both positive: open referral",
        [
            DemoBlock(28, "lidocaine", ["L4-L5"], "right", [Side(None, 8, [*R, 3, 6, 7, 7, 8, 8, 8])]),
            DemoBlock(
                14,
                "bupivacaine",
                ["L4-L5"],
                "right",
                [Side(None, 8, [3, *R, 1, 1, 2, 4, 6, 7])],
                concentration_pct=0.5,
            ),
        ],
    ),
    DemoPatient(
        "DEMO-1002",
        "James Okafor",
        "1958-09-30",
        "bilateral block: the left side responded, the right did not",
        [
            DemoBlock(
                10,
                "lidocaine",
                ["L5-S1"],
                "bilateral",
                [
                    Side("left", 7, [1, 0, 0, 1, 3, 5, 6, 7, 7, 7, 7]),
                    Side("right", 6, [4, 3, 3, 4, 5, 6, 6, 6, 6, 6, 6]),
                ],
            ),
        ],
    ),
    DemoPatient(
        "DEMO-1003",
        "Linda Chen",
        "1970-01-22",
        "bupivacaine block with a diary that stops at 2 h: waiting for data",
        [
            DemoBlock(
                2, "bupivacaine", ["C5-C6"], "left", [Side(None, 7, [1, 1, 0, 0, 1])], concentration_pct=0.5
            ),
        ],
    ),
    DemoPatient(
        "DEMO-1004",
        "Robert Kowalski",
        "1955-06-03",
        "a positive block, then a negative one: the count resets",
        [
            DemoBlock(35, "lidocaine", ["L3-L4"], "right", [Side(None, 8, [*R, 2, 5, 7, 8, 8, 8, 8])]),
            DemoBlock(
                21, "lidocaine", ["L3-L4"], "right", [Side(None, 8, [5, 4, 4, 4, 5, 6, 7, 8, 8, 8, 8])]
            ),
        ],
    ),
    DemoPatient(
        "DEMO-1005",
        "Aisha Rahman",
        "1967-11-15",
        "two levels in one ropivacaine session on a VAS diary: first positive block",
        [
            DemoBlock(
                5,
                "ropivacaine",
                ["L4-L5", "L5-S1"],
                "left",
                [Side(None, 70, [20, 10, 5, 5, 5, 10, 10, 20, 40, 60, 70])],
                pain_scale="vas",
                concentration_pct=0.5,
            ),
        ],
    ),
    DemoPatient(
        "DEMO-1006",
        "Hannah Brooks",
        "1963-02-17",
        "two positive blocks, then the ablation: the referral is fulfilled and the level ablated",
        [
            DemoBlock(60, "lidocaine", ["L4-L5"], "left", [Side(None, 8, [*R, 3, 6, 7, 7, 8, 8, 8])]),
            DemoBlock(
                46,
                "bupivacaine",
                ["L4-L5"],
                "left",
                [Side(None, 8, [2, *R, 1, 1, 2, 4, 6, 7])],
                concentration_pct=0.5,
            ),
            DemoBlock(
                20,
                "lidocaine",
                ["L4-L5"],
                "left",
                [],
                procedure=RFA,
                follow_up=FollowUp(8, [(7, 3), (14, 2)]),
            ),
        ],
    ),
    DemoPatient(
        "DEMO-1007",
        "Samuel Ortiz",
        "1952-08-05",
        "an ablation over a year ago with relief past six months: a repeat needs no new blocks",
        [
            DemoBlock(430, "lidocaine", ["L5-S1"], "right", [Side(None, 7, [1, *R, 2, 5, 7, 7, 7, 7])]),
            DemoBlock(416, "lidocaine", ["L5-S1"], "right", [Side(None, 7, [*R, 1, 4, 6, 7, 7, 7, 7])]),
            DemoBlock(
                400,
                "lidocaine",
                ["L5-S1"],
                "right",
                [],
                procedure=RFA,
                follow_up=FollowUp(7, [(7, 2), (30, 2), (90, 3), (180, 3), (210, 3), (270, 6)]),
            ),
        ],
    ),
    DemoPatient(
        "DEMO-1008",
        "Grace Lindqvist",
        "1971-12-01",
        "coverage gates: a block under general anaesthesia held back at L3-L4, an ultrasound-guided block "
        "counted on a clinician's override at L5-S1",
        [
            DemoBlock(40, "lidocaine", ["L3-L4"], "right", [Side(None, 8, [*R, 3, 6, 8, 8, 8, 8, 8])]),
            DemoBlock(
                26,
                "lidocaine",
                ["L3-L4"],
                "right",
                [Side(None, 8, [*R, 2, 6, 8, 8, 8, 8, 8])],
                sedation="general",
            ),
            DemoBlock(
                38,
                "lidocaine",
                ["L5-S1"],
                "left",
                [Side(None, 8, [*R, 2, 5, 8, 8, 8, 8, 8])],
                guidance="ultrasound",
                override="Fluoroscopy unavailable that day; ultrasound-guided by a credentialed physician, "
                "diary reviewed.",
            ),
            DemoBlock(24, "lidocaine", ["L5-S1"], "left", [Side(None, 8, [*R, 3, 6, 8, 8, 8, 8, 8])]),
        ],
    ),
    DemoPatient(
        "DEMO-1009",
        "Peter Nakamura",
        "1959-05-23",
        "bilateral blocks at three lumbar joints, confirmed: a two-session ablation plan",
        [
            DemoBlock(
                50, "lidocaine", ["L3-L4", "L4-L5"], "bilateral", [Side(None, 8, [*R, 3, 6, 8, 8, 8, 8, 8])]
            ),
            DemoBlock(49, "lidocaine", ["L5-S1"], "bilateral", [Side(None, 8, [*R, 3, 6, 8, 8, 8, 8, 8])]),
            DemoBlock(
                36, "lidocaine", ["L3-L4", "L4-L5"], "bilateral", [Side(None, 8, [*R, 2, 6, 8, 8, 8, 8, 8])]
            ),
            DemoBlock(35, "lidocaine", ["L5-S1"], "bilateral", [Side(None, 8, [*R, 2, 6, 8, 8, 8, 8, 8])]),
        ],
    ),
]
