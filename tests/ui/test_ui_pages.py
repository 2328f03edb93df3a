"""Pages: patients, the block form, the diary grid and its errors, corrections, referrals, rights."""

import re
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import BlockTarget, Reading, ReadingVersion
from tests.ui.conftest import UserFactory, signed_in
from tests.ui.pages import POSITIVE, create_patient, diary_form, location_id, record_block


async def _targets(session: AsyncSession, block_id: uuid.UUID) -> list[str]:
    """The block's target ids in grid order (left, right for a bilateral block)."""
    async with session.begin():
        query = select(BlockTarget.id).where(BlockTarget.block_id == block_id).order_by(BlockTarget.position)
        return [str(target_id) for target_id in (await session.scalars(query)).all()]


async def test_search_patients_by_mrn_or_name(client: httpx.AsyncClient, ui_as) -> None:  # type: ignore[no-untyped-def]
    csrf = await ui_as("staff")
    await create_patient(client, csrf, "MRN-4242")
    by_mrn = await client.get("/ui/patients", params={"q": "MRN-4242"})
    by_name = await client.get("/ui/patients", params={"q": "whitf"})
    nothing = await client.get("/ui/patients", params={"q": "nobody"})
    assert "MRN-4242" in by_mrn.text and "MRN-4242" in by_name.text
    assert "No patient found." in nothing.text


async def test_create_patient_bad_date_says_what_to_type(client: httpx.AsyncClient, ui_as) -> None:  # type: ignore[no-untyped-def]
    csrf = await ui_as("staff")
    answer = await client.post(
        "/ui/patients", data={"mrn": "MRN-1", "birth_date": "03/08/1964", "csrf_token": csrf}
    )
    assert answer.status_code == 422
    assert "write the date as YYYY-MM-DD, e.g. 1964-03-08" in answer.text
    duplicate = await create_patient(client, csrf, "MRN-2")
    again = await client.post("/ui/patients", data={"mrn": "MRN-2", "csrf_token": csrf})
    assert again.status_code == 409 and f"/ui/patients/{duplicate}" in again.text


async def test_record_block_short_joint_bilateral_expands(
    client: httpx.AsyncClient,
    ui_as,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    csrf = await ui_as("staff")
    patient = await create_patient(client, csrf)
    block_id = location_id(await record_block(client, csrf, patient, joints="l4-5, L5/S1"), "/ui/blocks")
    page = await client.get(f"/ui/blocks/{block_id}/diary")
    assert page.status_code == 200
    for label in ("L4-L5 left", "L4-L5 right", "L5-S1 left", "L5-S1 right"):
        assert label in page.text
    assert len(await _targets(session, block_id)) == 4


async def test_record_block_time_without_offset_and_bad_joint_refused(
    client: httpx.AsyncClient, ui_as
) -> None:  # type: ignore[no-untyped-def]
    csrf = await ui_as("staff")
    patient = await create_patient(client, csrf)
    answer = await record_block(client, csrf, patient, performed_at="2026-11-20 09:30", joints="L6-S1")
    assert answer.status_code == 422
    assert "add the time zone offset" in answer.text
    assert "is not a facet joint" in answer.text
    board = await client.get(f"/ui/patients/{patient}")
    assert "No blocks recorded yet." in board.text


async def test_save_diary_grid_stores_batch_and_shows_verdict_and_chart(
    client: httpx.AsyncClient,
    ui_as,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    csrf = await ui_as("staff")
    patient = await create_patient(client, csrf)
    block_id = location_id(await record_block(client, csrf, patient), "/ui/blocks")
    left, right = await _targets(session, block_id)
    form = diary_form(csrf, POSITIVE, **{f"score-{row}-{right}": "5" for row in (1, 2, 3, 4)})  # no relief
    saved = await client.post(f"/ui/blocks/{block_id}/diary", data=form)
    assert saved.status_code == 303 and saved.headers["location"].endswith("/diary#verdict")
    page = (await client.get(f"/ui/blocks/{block_id}/diary")).text
    verdicts = re.findall(
        r'data-target="(L4-L5 \w+)">\s*<h3>[^<]*</h3>\s*<p class="verdict"><span class="badge \w+">(\w+)',
        page,
    )
    assert verdicts == [("L4-L5 left", "Positive"), ("L4-L5 right", "Negative")]
    assert "<svg" in page and "threshold 80%" in page and "required 60 min" in page
    assert "87.5%" in page  # peak relief, one decimal
    async with session.begin():
        count = len((await session.scalars(select(Reading).where(Reading.block_id == block_id))).all())
    assert count == 24


async def test_save_diary_bad_cells_mapped_from_batch_422_nothing_stored(
    client: httpx.AsyncClient,
    ui_as,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    csrf = await ui_as("staff")
    patient = await create_patient(client, csrf)
    block_id = location_id(await record_block(client, csrf, patient), "/ui/blocks")
    left, right = await _targets(session, block_id)
    scores = POSITIVE | {3: "7/10"}
    form = diary_form(
        csrf, scores, **{f"score-5-{right}": "11", "minutes-12": "later", f"score-12-{left}": "4"}
    )
    answer = await client.post(f"/ui/blocks/{block_id}/diary", data=form)
    assert answer.status_code == 422
    text = answer.text
    assert "Nothing was saved" in text

    def cell(name: str) -> re.Match[str] | None:
        return re.search(
            rf'name="{name}"[^>]*>\s*<small class="cell-error error" role="status">([^<]*)<', text
        )

    assert cell("score-3-all").group(1) == "type the score alone as a whole number, e.g. 7 (not 7/10)"
    assert cell(f"score-5-{right}").group(1) == "NRS scores are whole numbers from 0 to 10"
    assert "type the time after the block" in text  # the added row's time
    async with session.begin():
        count = len((await session.scalars(select(Reading).where(Reading.block_id == block_id))).all())
    assert count == 0
    assert 'value="7/10"' in text  # what was typed is kept


async def test_diary_cell_check_uses_api_rules(client: httpx.AsyncClient, ui_as) -> None:  # type: ignore[no-untyped-def]
    csrf = await ui_as("staff")
    patient = await create_patient(client, csrf)
    block_id = location_id(await record_block(client, csrf, patient, pain_scale="nrs"), "/ui/blocks")
    check = lambda value: client.get(f"/ui/blocks/{block_id}/diary/check", params={"score-1-all": value})  # noqa: E731
    assert (await check("7")).text == ""
    assert (await check("7/10")).text == "type the score alone as a whole number, e.g. 7 (not 7/10)"
    assert (await check("12")).text == "NRS scores are whole numbers from 0 to 10"


async def test_amend_reading_with_reason_names_the_person(
    client: httpx.AsyncClient, make_user: UserFactory, session: AsyncSession
) -> None:
    user = await make_user("staff")
    csrf = await signed_in(client, user)
    patient = await create_patient(client, csrf)
    block_id = location_id(await record_block(client, csrf, patient, side="left"), "/ui/blocks")
    await client.post(f"/ui/blocks/{block_id}/diary", data=diary_form(csrf, POSITIVE))
    async with session.begin():
        reading = (
            await session.scalars(
                select(Reading)
                .where(Reading.block_id == block_id, Reading.phase == "post")
                .order_by(Reading.recorded_at)
            )
        ).first()
        reading_id = reading.id
    no_reason = await client.post(f"/ui/readings/{reading_id}/amend", data={"score": "2", "csrf_token": csrf})
    assert no_reason.status_code == 422
    amended = await client.post(
        f"/ui/readings/{reading_id}/amend",
        data={"score": "2", "reason": "paper diary says 2", "csrf_token": csrf},
    )
    assert amended.status_code == 303
    page = await client.get(f"/ui/readings/{reading_id}")
    assert "paper diary says 2" in page.text and "Staff Person" in page.text
    async with session.begin():
        versions = (
            await session.scalars(
                select(ReadingVersion)
                .where(ReadingVersion.reading_id == reading_id)
                .order_by(ReadingVersion.version)
            )
        ).all()
        assert [(v.version, v.score, v.changed_by_user_id) for v in versions] == [
            (1, 1, user.id),
            (2, 2, user.id),
        ]


async def test_viewer_cannot_write_and_nothing_is_stored(
    client: httpx.AsyncClient,
    ui_as,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    csrf = await ui_as("viewer")
    page = await client.get("/ui/patients")
    assert page.status_code == 200 and "Register a patient" not in page.text
    answer = await client.post("/ui/patients", data={"mrn": "MRN-VIEWER", "csrf_token": csrf})
    assert answer.status_code == 403 and "viewer" in answer.text
    assert "No patient found." in (await client.get("/ui/patients", params={"q": "MRN-VIEWER"})).text


async def test_staff_cannot_acknowledge_referral(client: httpx.AsyncClient, ui_as) -> None:  # type: ignore[no-untyped-def]
    csrf = await ui_as("staff")
    answer = await client.post(f"/ui/referrals/{uuid.uuid4()}/acknowledge", data={"csrf_token": csrf})
    assert answer.status_code == 403


async def test_other_clinic_user_gets_404(
    client: httpx.AsyncClient,
    make_user: UserFactory,
    make_clinic,
    ehr: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    patient = (await client.post("/v1/patients", json={"mrn": "MRN-OURS"}, headers=ehr)).json()
    block = await client.post(
        f"/v1/patients/{patient['id']}/blocks",
        json={
            "performed_at": "2026-11-20T09:30:00Z",
            "agent": "lidocaine",
            "targets": [{"joint": "L4-L5", "side": "left"}],
        },
        headers=ehr,
    )
    other, _ = await make_clinic("Lakeside Pain Center")
    csrf = await signed_in(client, await make_user("admin", "admin@lakeside.example", clinic_id=other.id))
    for path in (
        f"/ui/patients/{patient['id']}",
        f"/ui/blocks/{block.json()['id']}/diary",
        f"/ui/patients/{patient['id']}/levels/L4-L5/left/letter",
    ):
        assert (await client.get(path)).status_code == 404, path
    void = await client.post(
        f"/ui/blocks/{block.json()['id']}/void", data={"reason": "x", "csrf_token": csrf}
    )
    assert void.status_code == 404
    assert "No patient found." in (await client.get("/ui/patients", params={"q": "MRN-OURS"})).text


async def test_save_diary_twice_cells_already_stored_nothing_stored_twice(
    client: httpx.AsyncClient,
    ui_as,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    csrf = await ui_as("staff")
    patient = await create_patient(client, csrf)
    block_id = location_id(await record_block(client, csrf, patient), "/ui/blocks")
    first = await client.post(f"/ui/blocks/{block_id}/diary", data=diary_form(csrf, POSITIVE))
    assert first.status_code == 303

    again = await client.post(f"/ui/blocks/{block_id}/diary", data=diary_form(csrf, POSITIVE))

    assert again.status_code == 422
    assert "already stored; amend or void it instead" in again.text
    async with session.begin():
        count = len((await session.scalars(select(Reading).where(Reading.block_id == block_id))).all())
    assert count == 2 * len(POSITIVE)  # two targets, stored once
