"""The payment fake answers like Stripe: PaymentIntents, refunds, declines, auth, idempotency, its faults."""

from __future__ import annotations

import httpx
import pytest

from tarot_monitoring.demo.fakes import FakePayments


def test_payment_intent_created_confirmed_retrieved_and_refunded(stripe_http: httpx.Client) -> None:
    created = stripe_http.post(
        "/v1/payment_intents",
        data={"amount": "1500", "currency": "USD", "metadata[order]": "7", "payment_method": "pm_card_visa"},
    )
    assert created.status_code == 200
    intent = created.json()
    assert intent["object"] == "payment_intent"
    assert intent["id"].startswith("pi_")
    assert (intent["amount"], intent["currency"], intent["status"]) == (1500, "usd", "requires_confirmation")
    assert intent["metadata"] == {"order": "7"}

    confirmed = stripe_http.post(f"/v1/payment_intents/{intent['id']}/confirm").json()
    assert (confirmed["status"], confirmed["amount_received"]) == ("succeeded", 1500)
    assert confirmed["latest_charge"].startswith("ch_")
    assert stripe_http.get(f"/v1/payment_intents/{intent['id']}").json() == confirmed

    partial = stripe_http.post("/v1/refunds", data={"payment_intent": intent["id"], "amount": "500"}).json()
    assert (partial["object"], partial["amount"], partial["status"]) == ("refund", 500, "succeeded")
    assert partial["charge"] == confirmed["latest_charge"]
    too_much = stripe_http.post("/v1/refunds", data={"payment_intent": intent["id"], "amount": "1001"})
    assert too_much.status_code == 400
    assert too_much.json()["error"]["code"] == "amount_too_large"
    rest = stripe_http.post("/v1/refunds", data={"payment_intent": intent["id"]}).json()
    assert rest["amount"] == 1000
    again = stripe_http.post("/v1/refunds", data={"payment_intent": intent["id"]})
    assert again.json()["error"]["code"] == "charge_already_refunded"


def test_declined_card_is_a_402_card_error(stripe_http: httpx.Client, fake_payments: FakePayments) -> None:
    response = stripe_http.post(
        "/v1/payment_intents",
        data={
            "amount": "999",
            "currency": "eur",
            "payment_method": "pm_card_chargeDeclined",
            "confirm": "true",
        },
    )
    assert response.status_code == 402
    assert response.headers["Request-Id"].startswith("req_")
    error = response.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )
    assert error["message"] == "Your card was declined."
    assert error["payment_intent"]["status"] == "requires_payment_method"
    stored = fake_payments.payment_intent(error["payment_intent"]["id"])
    assert stored is not None
    assert stored["last_payment_error"]["decline_code"] == "generic_decline"


def test_insufficient_funds_decline_code(stripe_http: httpx.Client) -> None:
    data = {"amount": "999", "currency": "eur", "confirm": "true"}
    data["payment_method"] = "pm_card_chargeDeclinedInsufficientFunds"
    error = stripe_http.post("/v1/payment_intents", data=data).json()["error"]
    assert (error["code"], error["decline_code"]) == ("card_declined", "insufficient_funds")


@pytest.mark.parametrize(
    ("data", "code", "param"),
    [
        ({"currency": "usd"}, "parameter_missing", "amount"),
        ({"amount": "100"}, "parameter_missing", "currency"),
        ({"amount": "10", "currency": "usd"}, "amount_too_small", "amount"),
        ({"amount": "abc", "currency": "usd"}, None, "amount"),
        (
            {"amount": "100", "currency": "usd", "payment_method": "pm_nope"},
            "resource_missing",
            "payment_method",
        ),
    ],
)
def test_payment_intent_validation(
    stripe_http: httpx.Client, data: dict[str, str], code: str | None, param: str
) -> None:
    response = stripe_http.post("/v1/payment_intents", data=data)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error.get("code") == code
    assert error["param"] == param


def test_payments_auth(fake_payments: FakePayments) -> None:
    url = f"{fake_payments.base_url}/v1/payment_intents"
    data = {"amount": "500", "currency": "usd"}
    missing = httpx.post(url, data=data)
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("You did not provide an API key.")
    wrong = httpx.post(url, data=data, headers={"Authorization": "Bearer sk_test_wrong_1234"})
    assert wrong.status_code == 401
    assert "1234" not in wrong.text
    basic = httpx.post(url, data=data, auth=(fake_payments.api_key, ""))
    assert basic.status_code == 200


def test_unknown_payment_intent_is_404_resource_missing(stripe_http: httpx.Client) -> None:
    response = stripe_http.get("/v1/payment_intents/pi_missing")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "message": "No such payment_intent: 'pi_missing'",
        "type": "invalid_request_error",
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "param": "intent",
    }


def test_idempotency_key_replays_the_first_answer(
    stripe_http: httpx.Client, fake_payments: FakePayments
) -> None:
    data = {"amount": "700", "currency": "usd"}
    first = stripe_http.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": "order-7"})
    replay = stripe_http.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": "order-7"})
    other = stripe_http.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": "order-8"})
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert other.json()["id"] != first.json()["id"]


def test_decline_fault_hits_charges_only(stripe_http: httpx.Client, fake_payments: FakePayments) -> None:
    ok = stripe_http.post("/v1/payment_intents", data={"amount": "500", "currency": "usd"}).json()
    fake_payments.set_faults(decline=True, fail_every_nth=2)
    data = {"amount": "500", "currency": "usd", "payment_method": "pm_card_visa", "confirm": "true"}
    statuses = [stripe_http.post("/v1/payment_intents", data=data).status_code for _ in range(4)]
    assert statuses == [200, 402, 200, 402]
    # reads are not charges, so they neither fail nor advance the count
    assert stripe_http.get(f"/v1/payment_intents/{ok['id']}").status_code == 200
    confirm = stripe_http.post(
        f"/v1/payment_intents/{ok['id']}/confirm", data={"payment_method": "pm_card_visa"}
    )
    assert confirm.status_code == 200
    declined = stripe_http.post(
        f"/v1/payment_intents/{ok['id']}/confirm", data={"payment_method": "pm_card_visa"}
    )
    assert declined.status_code == 402
    assert declined.json()["error"]["payment_intent"]["id"] == ok["id"]


def test_payments_server_error_fault_is_a_stripe_api_error(
    stripe_http: httpx.Client, fake_payments: FakePayments
) -> None:
    fake_payments.set_faults(error_rate=1.0)
    response = stripe_http.get("/v1/payment_intents/pi_any")
    assert response.status_code == 500
    assert response.json() == {"error": {"message": "An unknown error occurred", "type": "api_error"}}
    assert fake_payments.request_counts() == {"GET /v1/payment_intents/{id}": 1}
