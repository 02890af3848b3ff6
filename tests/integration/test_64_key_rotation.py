"""Keys that can change (issue 12, item 5): otp_key and outbox_key are key
rings, newest first.  A rotation adds a key to both programs (the sender
first), reloads them (SIGHUP, no restart), new codes use the new key, codes
made under the old one still verify and open while it is listed, and once
it is removed they fail cleanly.  The outbox seal binds the destination
number, so a row edited to another number is not sent; and rows written
before key ids (no key id) still verify and open.  Behind every web server:
the signal goes to the stepup-fcgi processes themselves."""

import hashlib
import hmac
import os
import signal
import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from conftest import GB_MOBILE, KeyRing, config_value, hkdf
from sender_fixtures import (Flow, code_in, gateway, senders,  # noqa: F401 (fixtures)
                             wait_until)
from test_60_reload import hup_and_wait, log_size, restore, update  # noqa: F401 (fixture)

OTHER_MOBILE = "+447400999888"


def reload_fcgi(stack, **values):
    update(stack, **values)
    hup_and_wait(stack, log_size(stack), "SIGHUP: settings reloaded from")


def reload_sender(sender, outbox_key):
    """Rewrite a sender's file with this outbox_key and SIGHUP it: wait for its reload."""
    before = sender.log().count("SIGHUP: configuration reloaded")
    sender.settings["outbox_key"] = outbox_key
    sender.write_config()
    sender.signal(signal.SIGHUP)
    wait_until(lambda: sender.log().count("SIGHUP: configuration reloaded") > before,
               timeout=20, what="the sender's reload")


def delivered_code(gateway, outbox_id):
    [req] = gateway.wait_for(lambda reqs: len(reqs) == 1, message_ids=[outbox_id])
    return code_in(req["text"])


def key_id_of_challenge(stack, outbox_id):
    [[kid]] = stack.psql("SELECT coalesce(c.key_id, '') FROM stepup.sms_outbox o"
                         " JOIN stepup.challenges c ON c.id = o.challenge_id WHERE o.id = :'o'",
                         o=outbox_id)
    return kid


def test_rotation_without_downtime(stack, gateway, senders, restore):
    old_otp = config_value("stepup-fcgi", stack.conf_path, "otp_key")
    old_outbox = config_value("stepup-fcgi", stack.conf_path, "outbox_key")
    old_otp_id, old_outbox_id = KeyRing(old_otp).newest[0], KeyRing(old_outbox).newest[0]
    new_otp, new_outbox = KeyRing.generate("k2"), KeyRing.generate("k2")
    flow = Flow(stack)
    sender = senders.start()
    fcgi_pids, sender_pid = set(stack.fcgi_pids()), sender.pid

    # a challenge under the old keys, delivered, not verified yet
    first = flow.issue()
    first_token = flow.token
    code1 = delivered_code(gateway, first)
    assert flow.row(first)["key_id"] == old_outbox_id
    assert key_id_of_challenge(stack, first) == old_otp_id

    # 1. the sender learns the new outbox key first, and still opens the old one's seals
    reload_sender(sender, f"{new_outbox} {old_outbox}")
    second = flow.issue(new_session=True)
    second_token = flow.token
    code2 = delivered_code(gateway, second)
    assert flow.row(second)["key_id"] == old_outbox_id

    # 2. then stepup-fcgi: new codes are hashed and sealed under the new keys
    reload_fcgi(stack, otp_key=f"{new_otp} {old_otp}", outbox_key=f"{new_outbox} {old_outbox}")
    third = flow.issue(new_session=True)
    third_token = flow.token
    code3 = delivered_code(gateway, third)
    assert flow.row(third)["key_id"] == "k2"
    assert key_id_of_challenge(stack, third) == "k2"
    [c] = [c for c in stack.challenges(third_token)]
    assert c["code_hash"] == stack.code_hash(third_token, code3)  # under the new key, derived

    # codes issued under the old key verify while it is listed, the new one too
    r = stack.verify(flow.programme.api_key, first_token, code1)
    assert r.status == 204, r
    r = stack.verify(flow.programme.api_key, third_token, code3)
    assert r.status == 204, r
    assert set(stack.fcgi_pids()) >= fcgi_pids, "stepup-fcgi was restarted, not reloaded"
    assert sender.pid == sender_pid and sender.running()

    # 3. the old keys are removed: a code issued under them no longer verifies
    reload_fcgi(stack, otp_key=new_otp, outbox_key=new_outbox)
    reload_sender(sender, new_outbox)
    r = stack.verify(flow.programme.api_key, second_token, code2)
    assert r.status == 409 and r.json["errorCode"] == "VERIFICATION_CODE_INVALID", r
    fourth = flow.issue(new_session=True)
    code4 = delivered_code(gateway, fourth)
    r = stack.verify(flow.programme.api_key, flow.token, code4)
    assert r.status == 204, r
    assert stack.request("GET", "/health").status == 200


def test_an_old_key_still_listed_verifies_its_codes(stack, gateway, senders, restore):
    """The challenge issued before the rotation verifies after it."""
    old_otp = config_value("stepup-fcgi", stack.conf_path, "otp_key")
    old_outbox = config_value("stepup-fcgi", stack.conf_path, "outbox_key")
    flow = Flow(stack)
    senders.start(outbox_key=f"{KeyRing.generate('n2')} {old_outbox}")
    outbox_id = flow.issue()
    code = delivered_code(gateway, outbox_id)
    reload_fcgi(stack, otp_key=f"{KeyRing.generate('n2')} {old_otp}",
                outbox_key=f"{KeyRing.generate('n2')} {old_outbox}")
    r = stack.verify(flow.programme.api_key, flow.token, code)
    assert r.status == 204, r


def test_a_seal_under_a_key_the_sender_lacks_is_not_sent(stack, gateway, senders):
    """A sender whose outbox_key does not list the row's key: the attempt
    fails (retried, then DEAD) with the key id named, no key or code logged."""
    flow = Flow(stack)
    outbox_id = flow.issue()
    code = flow.code_of(outbox_id)
    stranger = KeyRing.generate("other")
    sender = senders.start(outbox_key=stranger, max_attempts=2)
    row = flow.wait_status(outbox_id, "DEAD", timeout=30)
    assert "which this sender's outbox_key does not list" in row["last_error"], row
    assert flow.row(outbox_id)["key_id"] in row["last_error"]
    assert gateway.requests(message_ids=[outbox_id]) == []
    log = sender.log()
    assert code not in log and stranger.split(":")[1] not in log
    assert stack.outbox_key.hex() not in log


def test_an_edited_destination_is_not_sent(stack, gateway, senders):
    """The seal binds the number: a queued row edited to point at another
    number does not open, and no text goes to either number."""
    flow = Flow(stack)
    outbox_id = flow.issue()
    code = flow.code_of(outbox_id)
    stack.psql("UPDATE stepup.sms_outbox SET to_number = :'n' WHERE id = :'o'",
               superuser=True, n=OTHER_MOBILE, o=outbox_id)
    senders.start(max_attempts=2)
    row = flow.wait_status(outbox_id, "DEAD", timeout=30)
    assert "cannot open the sealed code" in row["last_error"], row
    assert gateway.requests(message_ids=[outbox_id]) == []
    assert gateway.requests(to=OTHER_MOBILE) == []
    # the row as stepup-fcgi wrote it opens: the number is all that differs
    stack.remember_code(code)


def test_rows_of_before_key_ids_still_verify_and_send(stack, gateway, senders):
    """A challenge and its outbox row as stepup wrote them before key ids
    (no key id; the code hashed and sealed with the key's bytes as they
    are, the seal bound to the challenge id alone): the sender opens and
    sends it, and its code verifies."""
    flow = Flow(stack)
    outbox_id = flow.issue()
    row = flow.row(outbox_id)
    code = f"{int.from_bytes(os.urandom(4), 'big') % 1000000:06d}"
    legacy_otp = stack.otp_ring.find(None)[2]
    legacy_outbox = stack.outbox_ring.find(None)[2]
    code_hash = hmac.new(legacy_otp, hashlib.sha256(flow.token.encode()).digest() + code.encode(),
                         hashlib.sha256).hexdigest()
    assert code_hash == stack.code_hash(flow.token, code, legacy=True)
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(legacy_outbox).encrypt(nonce, code.encode(),
                                                   uuid.UUID(row["challenge_id"]).bytes)
    stack.psql("UPDATE stepup.challenges SET key_id = NULL, code_hash = decode(:'h', 'hex')"
               " WHERE id = :'c'", superuser=True, h=code_hash, c=row["challenge_id"])
    stack.psql("UPDATE stepup.sms_outbox SET key_id = NULL, code_sealed = decode(:'s', 'hex')"
               " WHERE id = :'o'", superuser=True, s=sealed.hex(), o=outbox_id)
    stack.remember_code(code)
    senders.start()
    assert delivered_code(gateway, outbox_id) == code
    assert [r["to"] for r in gateway.requests(message_ids=[outbox_id])] == [GB_MOBILE]
    r = stack.verify(flow.programme.api_key, flow.token, code)
    assert r.status == 204, r


def test_the_idempotency_fingerprint_has_a_key_of_its_own(stack):
    """The stored fingerprint of an idempotent call is an HMAC under a key
    derived from the newest otp_key for that use alone, not the OTP key."""
    programme = stack.make_programme()
    user = stack.make_user(programme)
    token = stack.session(user)
    ref = f"fp-{uuid.uuid4().hex}"
    r = stack.issue(programme.api_key, token, idem=ref)
    assert r.status == 204, r
    [[stored]] = stack.psql("SELECT encode(request_hash, 'hex') FROM stepup.idempotency_keys"
                            " WHERE ref = :'r'", superuser=True, r=ref)
    message = b"POST\0/stepup/challenges/otp/SMS\0" + hashlib.sha256(b"").digest()
    own = hmac.new(hkdf(stack.otp_key, "stepup idempotency v1"), message, hashlib.sha256)
    shared = hmac.new(stack.otp_key, message, hashlib.sha256)
    assert stored == own.hexdigest()
    assert stored != shared.hexdigest()
