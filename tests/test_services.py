"""The registration services of lesson 01 (sagalab/services.py, from notebooks/01_orchestration)."""
import asyncio

import pytest

from sagalab.runtime import caller, now, run
from sagalab.services import (Call, EmailService, OfferService, ProfileService, Service,
                              UserService, calls_frame)


def test_latency_is_seeded_and_reproducible():
    async def ten_calls():
        users = UserService()
        for i in range(10):
            await users.create_user(f"u{i}@example.com", "U")
        return [(c.start, c.end) for c in users.calls]

    assert run(ten_calls(), seed=1) == run(ten_calls(), seed=1)
    assert run(ten_calls(), seed=1) != run(ten_calls(), seed=2)


def test_spread_zero_gives_exactly_the_median():
    async def one():
        await EmailService(median=0.25, spread=0).send("a@example.com", "hi")
        return now()

    assert run(one()) == 0.25


def test_latency_is_lognormal_around_the_median():
    async def many():
        svc = Service("x", median=0.2, spread=0.3)
        return sorted(svc.latency() for _ in range(2001))

    draws = run(many(), seed=3)
    assert all(d > 0 for d in draws)
    assert 0.18 < draws[1000] < 0.22          # the median
    assert draws[-1] > 0.4                    # a tail: some calls take twice the median


def test_every_call_is_recorded_with_its_caller():
    async def calls():
        users = UserService(spread=0)
        await users.create_user("a@example.com", "A")      # no caller set
        caller.set("reg-0007")
        await users.create_user("b@example.com", "B")
        return users.calls

    first, second = run(calls())
    assert (first.service, first.operation, first.caller) == ("User Service", "create_user", "-")
    assert second.caller == "reg-0007"
    assert second.start == pytest.approx(0.08) and second.end == pytest.approx(0.16)
    assert first.error is None and second.error is None


def test_user_ids_are_sequential_and_emails_unique():
    async def register():
        users = UserService()
        ids = [await users.create_user("a@example.com", "A"),
               await users.create_user("b@example.com", "B")]
        with pytest.raises(ValueError, match="a@example.com is already registered"):
            await users.create_user("a@example.com", "A again")
        return ids, users

    ids, users = run(register())
    assert ids == ["user-0001", "user-0002"]
    assert len(users.users) == 2
    assert users.calls[-1].error == "ValueError: e-mail a@example.com is already registered"


def test_email_rejects_an_address_without_at_sign():
    async def send():
        emails = EmailService()
        with pytest.raises(ValueError, match="not an e-mail address"):
            await emails.send_verification("user-0001", "nobody.example.com")
        email_id = await emails.send_verification("user-0001", "ok@example.com")
        return email_id, emails

    email_id, emails = run(send())
    assert email_id == "email-0001"
    assert [e["to"] for e in emails.sent] == ["ok@example.com"]
    assert emails.sent[0]["user_id"] == "user-0001"
    assert [c.operation for c in emails.calls] == ["send_verification"] * 2


def test_profiles_offers_and_deletes():
    async def flow():
        profiles, users, offers = ProfileService(), UserService(), OfferService()
        user_id = await users.create_user("a@example.com", "A")
        profile_id = await profiles.create_profile(user_id, "A")
        offer_id = await offers.grant_welcome_offer(user_id)
        deleted = [await profiles.delete_profile(profile_id), await profiles.delete_profile(profile_id),
                   await users.delete_user(user_id), await users.delete_user(user_id)]
        return profile_id, offer_id, deleted, profiles, users, offers

    profile_id, offer_id, deleted, profiles, users, offers = run(flow())
    assert (profile_id, offer_id) == ("profile-0001", "offer-0001")
    assert deleted == [True, False, True, False]
    assert profiles.profiles == {} and users.users == {}
    assert offers.offers["offer-0001"]["user_id"] == "user-0001"


def test_a_request_already_sent_is_served_even_if_the_caller_gives_up():
    async def impatient():
        users = UserService(median=1.0, spread=0)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(users.create_user("a@example.com", "A"), timeout=0.5)
        gave_up_with = dict(users.users)
        await asyncio.sleep(1)
        return gave_up_with, users

    at_timeout, users = run(impatient())
    assert at_timeout == {}                          # not yet served when the caller gave up
    assert list(users.users) == ["user-0001"]        # ... but served afterwards
    assert users.calls[0].end == 1.0


def test_calls_frame_merges_services_in_start_order():
    async def flow():
        users, emails = UserService(spread=0), EmailService(spread=0)
        await asyncio.gather(emails.send("a@example.com", "x"), users.create_user("b@example.com", "B"))
        await users.create_user("c@example.com", "C")
        return users, emails

    users, emails = run(flow())
    frame = calls_frame(users, emails)
    assert list(frame.columns) == ["service", "operation", "caller", "start", "end", "duration", "error"]
    assert list(frame.start) == sorted(frame.start)
    assert len(frame) == 3
    # ties (both calls start at 0) keep the order the services were given in
    assert list(frame.service) == ["User Service", "Email Service", "User Service"]
    assert frame.duration.tolist() == pytest.approx([0.08, 0.2, 0.08])
    assert calls_frame().empty


def test_call_record_has_no_end_while_in_flight():
    async def peek():
        users = UserService(median=1.0, spread=0)
        task = asyncio.create_task(users.create_user("a@example.com", "A"))
        await asyncio.sleep(0.5)
        record: Call = users.calls[0]
        seen = record.end
        await task
        return seen, record.end

    assert run(peek()) == (None, 1.0)
