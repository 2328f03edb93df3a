"""Steps through the workspace's forms, as a browser posts them (no JavaScript)."""

import re
import uuid

import httpx

DIARY_MINUTES = (0, 15, 30, 45, 60, 120, 180, 240, 300, 360, 480, 1440)


def location_id(response: httpx.Response, prefix: str) -> uuid.UUID:
    assert response.status_code == 303, response.text[:800]
    found = re.match(rf"^{prefix}/([0-9a-f-]{{36}})", response.headers["location"])
    assert found, response.headers["location"]
    return uuid.UUID(found.group(1))


async def create_patient(client: httpx.AsyncClient, csrf: str, mrn: str = "MRN-UI-1") -> uuid.UUID:
    answer = await client.post(
        "/ui/patients", data={"mrn": mrn, "name": "Dana Whitfield", "csrf_token": csrf}
    )
    return location_id(answer, "/ui/patients")


def block_form(csrf: str, **fields: str) -> dict[str, str]:
    form = {
        "performed_at": "2026-11-20 09:30 -05:00",
        "joints": "l4-5",
        "side": "bilateral",
        "agent": "lidocaine",
        "procedure": "medial_branch_block",
        "intent": "diagnostic",
        "sedation": "none",
        "guidance": "fluoroscopy",
        "pain_scale": "nrs",
        "volume_ml_per_nerve": "0.5",
        "csrf_token": csrf,
    }
    return form | fields


async def record_block(
    client: httpx.AsyncClient, csrf: str, patient_id: uuid.UUID, **fields: str
) -> httpx.Response:
    return await client.post(f"/ui/patients/{patient_id}/blocks", data=block_form(csrf, **fields))


def diary_form(csrf: str, scores: dict[int, str], **extra: str) -> dict[str, str]:
    """The grid with `scores[row]` typed in the row's "all targets" cell."""
    form = {"csrf_token": csrf} | {f"minutes-{r}": str(m) for r, m in enumerate(DIARY_MINUTES)}
    form |= {f"score-{row}-all": score for row, score in scores.items()}
    return form | extra


POSITIVE = {0: "8", 1: "1", 2: "1", 3: "1", 4: "1", 5: "2", 6: "5", 7: "7", 8: "8", 9: "8", 10: "8", 11: "8"}
