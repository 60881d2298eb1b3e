"""A fake of a Stripe-shaped payment provider: PaymentIntents, Refunds, the Balance, Stripe's error shapes.

Form-encoded posts with amounts in minor units, Stripe's test payment methods (``pm_card_visa``
succeeds, ``pm_card_chargeDeclined`` and friends decline), ``Idempotency-Key`` replays, and a
``decline`` fault that turns injected failures into card declines on charges only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping

from tarot_monitoring.demo.fakes.faults import Faults
from tarot_monitoring.demo.fakes.server import JSON, FakeServer, bearer_token, request_params
from tarot_monitoring.http_server import Request, Response

__all__ = ["FakePayments", "StripeError"]

# Stripe's test payment methods and what confirming with them does (None: success).
_TEST_PAYMENT_METHODS: Mapping[str, tuple[str, str] | None] = {
    "pm_card_visa": None,
    "pm_card_mastercard": None,
    "pm_card_chargeDeclined": ("card_declined", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": ("card_declined", "insufficient_funds"),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card"),
}
_DECLINE_MESSAGES: Mapping[str, str] = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
}
_GENERIC_DECLINE = ("card_declined", "generic_decline")
_MINIMUM_AMOUNT = 50  # Stripe's minimum charge is about $0.50 in most currencies


class StripeError(Exception):
    """An error answer in Stripe's ``{"error": {...}}`` shape."""

    def __init__(self, status: int, error: JSON) -> None:
        super().__init__(error.get("message", ""))
        self.status, self.error = status, error


def _invalid(
    message: str, *, code: str | None = None, param: str | None = None, status: int = 400
) -> StripeError:
    error: JSON = {"message": message, "type": "invalid_request_error"}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    return StripeError(status, error)


class FakePayments(FakeServer):
    """Stripe's PaymentIntents and Refunds: form-encoded posts, amounts in minor units.

    ``POST /v1/payment_intents`` (``amount``, ``currency``, optional ``payment_method`` such as
    ``pm_card_visa`` or ``pm_card_chargeDeclined`` and ``confirm=true``), ``GET`` and ``POST .../confirm``
    on ``/v1/payment_intents/{id}``, ``POST /v1/refunds``, ``GET /v1/balance`` (the health check's
    authenticated probe: what succeeded less what was refunded, per currency). A missing or wrong
    key is a 401 everywhere. ``Idempotency-Key`` replays the first answer.
    """

    service = "payment"

    def __init__(self, *, api_key: str = "sk_test_fake_payments_key_for_tests", port: int = 0) -> None:
        if not api_key.startswith("sk_test_"):
            raise ValueError("api_key must start with 'sk_test_' like Stripe's test-mode secret keys")
        super().__init__(port=port)
        self.api_key = api_key
        self._intents: dict[str, JSON] = {}
        self._refunded: dict[str, int] = {}
        self._idempotent: dict[tuple[str, str], Response] = {}
        self._add_route("POST", "/v1/payment_intents", r"/v1/payment_intents", self._create_intent)
        self._add_route(
            "GET", "/v1/payment_intents/{id}", r"/v1/payment_intents/(?P<id>[^/]+)", self._retrieve_intent
        )
        self._add_route(
            "POST",
            "/v1/payment_intents/{id}/confirm",
            r"/v1/payment_intents/(?P<id>[^/]+)/confirm",
            self._confirm_intent,
        )
        self._add_route("POST", "/v1/refunds", r"/v1/refunds", self._create_refund)
        self._add_route("GET", "/v1/balance", r"/v1/balance", self._retrieve_balance)

    def payment_intent(self, intent_id: str) -> JSON | None:
        """The stored PaymentIntent, for assertions."""
        with self._lock:
            intent = self._intents.get(intent_id)
            return dict(intent) if intent else None

    # -- plumbing ------------------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_Fake{self._next_id():020d}"

    def _answer(self, status: int, body: JSON) -> Response:
        return Response(status, body, (("Request-Id", self._new_id("req")),))

    def _guarded(self, request: Request, work: Callable[[JSON], JSON]) -> Response:
        """Auth, form decoding, idempotency replay and error shaping around one POST/GET."""
        key = bearer_token(request)
        if key is None:
            return self._answer(
                401,
                {
                    "error": {
                        "message": "You did not provide an API key. You need to provide your API key in "
                        "the Authorization header, using Bearer auth "
                        "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). "
                        "See https://stripe.com/docs/api#authentication for details.",
                        "type": "invalid_request_error",
                    }
                },
            )
        if key != self.api_key:
            return self._answer(
                401,
                {
                    "error": {
                        "message": "Invalid API Key provided: sk_test_****",
                        "type": "invalid_request_error",
                    }
                },
            )
        idempotency = (request.header("Idempotency-Key"), request.path) if request.method == "POST" else None
        if idempotency and idempotency[0]:
            with self._lock:
                replay = self._idempotent.get(idempotency)
            if replay is not None:
                return Response(
                    replay.status, replay.body, (*replay.headers, ("Idempotent-Replayed", "true"))
                )
        try:
            response = self._answer(200, work(_stripe_form(request_params(request))))
        except StripeError as exc:
            response = self._answer(exc.status, {"error": exc.error})
        if idempotency and idempotency[0] and response.status != 401 and response.status < 500:
            with self._lock:
                self._idempotent.setdefault(idempotency, response)
        return response

    def _fault_applies(self, template: str, faults: Faults) -> bool:
        if faults.decline:  # declines only make sense where a card is charged
            return template in ("/v1/payment_intents", "/v1/payment_intents/{id}/confirm")
        return True

    def _injected_failure(self, request: Request, template: str, faults: Faults) -> Response:
        if faults.decline:
            confirming = re.fullmatch(r"/v1/payment_intents/(?P<id>[^/]+)/confirm", request.path)
            if confirming:
                intent_id = confirming["id"]
                return self._guarded(
                    request,
                    lambda form: self._raise(self._decline(self._stored(intent_id), *_GENERIC_DECLINE)),
                )
            return self._guarded(request, self._declined_intent)
        if faults.error_status == 429:
            error: JSON = {
                "code": "rate_limit",
                "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
                "message": "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                "type": "invalid_request_error",
            }
        else:
            error = {"message": "An unknown error occurred", "type": "api_error"}
        return self._answer(faults.error_status, {"error": error})

    def _not_found(self, request: Request) -> Response:
        error = f"Unrecognized request URL ({request.method}: {request.path}). Please see https://stripe.com/docs."
        return self._answer(404, {"error": {"message": error, "type": "invalid_request_error"}})

    def _bad_request(self, message: str) -> Response:
        return self._answer(400, {"error": {"message": message, "type": "invalid_request_error"}})

    # -- Balance -----------------------------------------------------------------------------------------

    def _retrieve_balance(self, request: Request, path: Mapping[str, str]) -> Response:
        return self._guarded(request, lambda form: self._balance())

    def _balance(self) -> JSON:
        available: dict[str, int] = {}
        with self._lock:
            for intent_id, intent in self._intents.items():
                received = int(intent.get("amount_received") or 0) - self._refunded.get(intent_id, 0)
                currency = str(intent["currency"])
                available[currency] = available.get(currency, 0) + received
        amounts = [
            {"amount": amount, "currency": currency, "source_types": {"card": amount}}
            for currency, amount in sorted(available.items())
        ] or [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}]
        pending = [{**entry, "amount": 0, "source_types": {"card": 0}} for entry in amounts]
        return {"object": "balance", "available": amounts, "livemode": False, "pending": pending}

    # -- PaymentIntents --------------------------------------------------------------------------------

    def _create_intent(self, request: Request, path: Mapping[str, str]) -> Response:
        return self._guarded(request, self._new_intent)

    def _new_intent(self, form: JSON) -> JSON:
        amount = _amount(form, required=True)
        currency = str(form.get("currency") or "")
        if not currency:
            raise _invalid("Missing required param: currency.", code="parameter_missing", param="currency")
        if not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise _invalid(f"Invalid currency: {currency.lower()}.", param="currency")
        if amount is not None and amount < _MINIMUM_AMOUNT:
            raise _invalid(
                f"Amount must be at least {_MINIMUM_AMOUNT} {currency.lower()} minor units",
                code="amount_too_small",
                param="amount",
            )
        metadata = form.get("metadata", {})
        intent_id = self._new_id("pi")
        intent: JSON = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency.lower(),
            "client_secret": f"{intent_id}_secret_fake",
            "created": int(time.time()),
            "description": form.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": metadata if isinstance(metadata, dict) else {},
            "payment_method": None,
            "payment_method_types": ["card"],
            "status": "requires_payment_method",
        }
        with self._lock:
            self._intents[intent_id] = intent
        method = form.get("payment_method")
        if method:
            self._attach(intent, str(method))
        if str(form.get("confirm", "")).lower() == "true":
            return self._confirm(intent_id, form)
        return dict(intent)

    def _declined_intent(self, form: JSON) -> JSON:
        """An injected decline: store an intent as create would, then decline it."""
        intent = self._new_intent({k: v for k, v in form.items() if k not in ("confirm", "payment_method")})
        with self._lock:
            stored = self._intents[intent["id"]]
            stored["payment_method"] = str(form.get("payment_method") or "pm_card_visa")
        raise self._decline(stored, *_GENERIC_DECLINE)

    @staticmethod
    def _raise(error: StripeError) -> JSON:
        raise error

    def _attach(self, intent: JSON, method: str) -> None:
        if method not in _TEST_PAYMENT_METHODS:
            raise _invalid(
                f"No such PaymentMethod: '{method}'", code="resource_missing", param="payment_method"
            )
        with self._lock:
            intent["payment_method"] = method
            intent["status"] = "requires_confirmation"

    def _stored(self, intent_id: str) -> JSON:
        with self._lock:
            intent = self._intents.get(intent_id)
        if intent is None:
            raise _invalid(
                f"No such payment_intent: '{intent_id}'", code="resource_missing", param="intent", status=404
            )
        return intent

    def _retrieve_intent(self, request: Request, path: Mapping[str, str]) -> Response:
        return self._guarded(request, lambda form: dict(self._stored(path["id"])))

    def _confirm_intent(self, request: Request, path: Mapping[str, str]) -> Response:
        return self._guarded(request, lambda form: self._confirm(path["id"], form))

    def _confirm(self, intent_id: str, form: JSON) -> JSON:
        intent = self._stored(intent_id)
        if form.get("payment_method"):
            self._attach(intent, str(form["payment_method"]))
        if intent["status"] == "succeeded":
            raise _invalid(
                "This PaymentIntent's status is succeeded, and it cannot be confirmed.",
                code="payment_intent_unexpected_state",
            )
        if not intent["payment_method"]:
            raise _invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
            )
        outcome = _TEST_PAYMENT_METHODS[str(intent["payment_method"])]
        if outcome is not None:
            raise self._decline(intent, *outcome)
        with self._lock:
            intent.update(
                status="succeeded", amount_received=intent["amount"], latest_charge=self._new_id("ch")
            )
            intent["last_payment_error"] = None
            return dict(intent)

    def _decline(self, intent: JSON, code: str, decline_code: str) -> StripeError:
        charge = self._new_id("ch")
        error: JSON = {
            "charge": charge,
            "code": code,
            "decline_code": decline_code,
            "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
            "message": _DECLINE_MESSAGES[decline_code],
            "type": "card_error",
        }
        with self._lock:
            intent.update(status="requires_payment_method", latest_charge=charge)
            intent["last_payment_error"] = {k: v for k, v in error.items() if k != "charge"}
            error["payment_intent"] = dict(intent)
        return StripeError(402, error)

    # -- Refunds ---------------------------------------------------------------------------------------

    def _create_refund(self, request: Request, path: Mapping[str, str]) -> Response:
        return self._guarded(request, self._refund)

    def _refund(self, form: JSON) -> JSON:
        intent_id = str(form.get("payment_intent") or "")
        if not intent_id:
            raise _invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
                code="parameter_missing",
                param="payment_intent",
            )
        with self._lock:
            intent = self._intents.get(intent_id)
        if intent is None:
            raise _invalid(
                f"No such payment_intent: '{intent_id}'", code="resource_missing", param="payment_intent"
            )
        if intent["status"] != "succeeded":
            raise _invalid(f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.")
        with self._lock:
            remaining = int(intent["amount_received"]) - self._refunded.get(intent_id, 0)
            if remaining <= 0:
                raise _invalid(
                    f"Charge {intent['latest_charge']} has already been refunded.",
                    code="charge_already_refunded",
                )
            amount = _amount(form, required=False)
            amount = remaining if amount is None else amount
            if amount > remaining:
                raise _invalid(
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                    code="amount_too_large",
                    param="amount",
                )
            self._refunded[intent_id] = self._refunded.get(intent_id, 0) + amount
        return {
            "id": self._new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": intent["latest_charge"],
            "created": int(time.time()),
            "currency": intent["currency"],
            "metadata": {},
            "payment_intent": intent_id,
            "reason": form.get("reason"),
            "status": "succeeded",
        }


def _stripe_form(params: JSON) -> JSON:
    """Fold Stripe's bracket notation (``metadata[order]=7``) into nested dicts, one level deep."""
    out: JSON = {}
    for key, value in params.items():
        matched = re.fullmatch(r"(\w+)\[(\w*)\]", key)
        if matched:
            nested = out.setdefault(matched[1], {})
            if isinstance(nested, dict):
                nested[matched[2]] = value
        else:
            out[key] = value
    return out


def _amount(form: JSON, *, required: bool) -> int | None:
    raw = form.get("amount")
    if raw in (None, ""):
        if required:
            raise _invalid("Missing required param: amount.", code="parameter_missing", param="amount")
        return None
    try:
        amount = int(str(raw))
    except ValueError:
        raise _invalid(f"Invalid integer: {raw}", param="amount") from None
    if amount <= 0:
        raise _invalid("This value must be greater than or equal to 1.", param="amount")
    return amount
