"""The stateful, model-based check of the assert: random sequences of writes against one object.

Each rule sends one request and checks what the model predicts for it; after every step an invariant
compares every record the model knows with the target. Hypothesis shrinks a failing sequence to a
short program, and the failure message shows its requests and responses.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from crm_contract.contract_tests.checks import error_of, fail, parse_timestamp, record_agrees, record_of
from crm_contract.contract_tests.expectations import Expectations
from crm_contract.contract_tests.model import ModelRecord, Prediction, RecordModel
from crm_contract.contract_tests.subjects import ObjectUnderTest
from crm_contract.strategies import (
    SYSTEM_KEYS,
    bad_matching_payloads,
    full_payloads,
    invalid_payloads,
    near_miss_variants,
    null_payloads,
    partial_payloads,
)
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from crm_contract.kit.client import Exchange

__all__ = ["AssertMachine"]


def folded(value: Any) -> Any:
    """What a server that is only documented-correct may treat as the same key (A3's [R] part).

    Trimming and Unicode normalisation are reference choices; case folding is not (A3 [D]), so case is kept.
    """
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value


class AssertMachine(RuleBasedStateMachine):
    """Asserts, PATCHes, POSTs and DELETEs on one object, each checked against `RecordModel`."""

    def __init__(self, make_subject: Callable[[], ObjectUnderTest]) -> None:
        super().__init__()
        self.subject = make_subject()
        self.api = self.subject.api
        self.schema = self.subject.schema
        self.key = self.subject.matching
        self.path = f"/crm/{self.schema.slug}"
        # Under the documented profile only values whose round trip Zeeg documents are sent.
        # Documented values only, under every profile: the machine checks the assert's rules, and the
        # reference ranges of values are section 4's tests' business.
        self.opts: dict[str, Any] = {"prefix": self.subject.prefix, "documented_only": True}
        self.model = RecordModel(self.schema)
        self.last_assert: dict[str, dict[str, Any]] = {}
        self.deleted_keys: list[Any] = []
        self.deleted_ids: list[str] = []
        self.log: list[Exchange] = []
        self._recording = self.api.exchanges()
        self.log = self._recording.__enter__()

    def teardown(self) -> None:
        try:
            self.subject.release()
        finally:
            self._recording.__exit__(None, None, None)

    # Helpers -----------------------------------------------------------------------------------------

    def keys_of(self, record: ModelRecord) -> st.SearchStrategy[Any]:
        return st.just(record.values[self.key])

    def pick(self, data: st.DataObject) -> ModelRecord:
        return data.draw(st.sampled_from(self.model.records), label="record")

    def send(self, method: str, path: str, body: dict[str, Any], prediction: Prediction,
             params: dict[str, Any] | None = None) -> None:
        """One write, checked against the prediction, and the model brought up to date."""
        response = self.api.request(method, path, json=body, params=params)
        rule = prediction.rule
        expect = self.subject.expect
        if prediction.outcome == "reject":
            error_of(response, 400, rule, self.log, expect=expect, part=prediction.part)
            return
        record = record_of(response, prediction.status, rule, self.log, self.schema.slug)
        created_at = parse_timestamp(record.get("createdAt"), "createdAt", self.log)
        updated_at = parse_timestamp(record.get("updatedAt"), "updatedAt", self.log)
        if prediction.outcome == "create":
            if self.model.by_id(record["id"]) is not None or record["id"] in self.deleted_ids:
                fail(rule, f"a create returned the id {record['id']} of an existing or deleted record", self.log)
            if expect.holds("timestamps") and created_at != updated_at:
                fail("section 5", "on create updatedAt must equal createdAt", self.log)
            known = self.model.created(record["id"], body, created_at, updated_at)
            self.subject.track(record["id"])
        else:
            known = prediction.record
            assert known is not None
            chosen = next((c for c in prediction.candidates if c.id == record["id"]), None)
            part = prediction.part  # set with the candidates: which of them is "the first" ([R] in A9)
            if record["id"] != known.id and chosen is not None and part is not None and not expect.holds(part):
                known = chosen  # one of several matches, which one being a reference choice (A9)
            elif record["id"] != known.id:
                named = Expectations.label(prediction.part) if chosen is not None and prediction.part else rule
                fail(named, f"the update answered the id {record['id']}, expected {known.id} (the "
                     f"{'oldest ' if prediction.candidates else ''}record that holds the matching value)", self.log)
            if expect.holds("timestamps") and created_at != known.created_at:
                fail("section 5", "an update changed createdAt", self.log)
            if expect.holds("timestamps") and updated_at < known.updated_at:
                fail("section 5", "updatedAt moved backward", self.log)
            self.model.updated(known, body, updated_at)
        record_agrees(record, known.values, self.schema, rule, self.log, expect=self.subject.expect)
        if method == "PUT":
            self.last_assert[known.id] = body

    def assert_body(self, body: dict[str, Any], prediction: Prediction | None = None) -> None:
        """Assert `body`, predicted by the model unless a rule says more (which rule, a rejection).

        A prediction made by the model keeps its `part` and `candidates`: where several records hold
        the key, which of them is updated is a reference choice (A9-oldest), so under `documented`
        any of them may be, and only bodies whose outcome does not depend on it are sent (a unique
        value held by one of the matches would).
        """
        if (prediction is None or prediction.candidates) and not self.subject.expect.holds("A9-oldest"):
            assume(self.model.same_outcome_for_every_holder(self.key, body))
        self.send("PUT", self.path, body, prediction or self.model.predict_assert(self.key, body),
                  params={"matchingAttribute": self.key})

    def fresh(self, body: dict[str, Any]) -> dict[str, Any]:
        """Where exact form is a reference choice, a new key must not be a trimmed or normalised known one."""
        if not self.subject.expect.holds("A3-exact-form"):
            known = {folded(record.values[self.key]) for record in self.model.records}
            assume(folded(body[self.key]) not in known | {folded(key) for key in self.deleted_keys})
        return body

    # Rules ---------------------------------------------------------------------------------------------

    @rule(data=st.data())
    def assert_a_new_key(self, data: st.DataObject) -> None:
        payloads = data.draw(st.sampled_from([full_payloads, partial_payloads]), label="payloads")
        body = self.fresh(data.draw(payloads(self.schema, self.key, **self.opts), label="body"))
        self.assert_body(body)

    @precondition(lambda self: self.model.records)
    @rule(data=st.data())
    def repeat_an_assert(self, data: st.DataObject) -> None:
        record = self.pick(data)
        body = self.last_assert.get(record.id) or {self.key: record.values[self.key]}
        prediction = self.model.predict_assert(self.key, body)
        self.assert_body(body, replace(prediction, rule="A5"))

    @precondition(lambda self: self.model.records)
    @rule(data=st.data())
    def reassert_with_a_changed_body(self, data: st.DataObject) -> None:
        record = self.pick(data)
        strategy = data.draw(st.sampled_from([full_payloads, partial_payloads]), label="payloads")
        self.assert_body(data.draw(strategy(self.schema, self.key, keys=self.keys_of(record),
                                            **self.opts), label="body"))

    @precondition(lambda self: self.model.records)
    @rule(data=st.data())
    def reassert_with_nulls(self, data: st.DataObject) -> None:
        record = self.pick(data)
        try:
            strategy = null_payloads(self.schema, self.key, keys=self.keys_of(record), **self.opts)
        except ValueError:  # no optional attribute to send as null
            return
        self.assert_body(data.draw(strategy, label="body"))

    @precondition(lambda self: self.model.records)
    @rule(data=st.data())
    def assert_a_near_miss_of_a_known_key(self, data: st.DataObject) -> None:
        record = self.pick(data)
        try:
            miss = data.draw(near_miss_variants(record.values[self.key]), label="near miss")
        except ValueError:
            return
        if not self.subject.expect.near_miss_checked(miss.kind):
            return
        if any(folded(miss.value) == folded(key) for key in self.deleted_keys) and \
                not self.subject.expect.holds("A3-exact-form"):
            return
        body = {**data.draw(partial_payloads(self.schema, self.key, **self.opts)),
                self.key: miss.value}
        attr_type = self.schema.attribute(self.key).type
        valid = (isinstance(miss.value, int) and not isinstance(miss.value, bool)) if attr_type == "number" \
            else isinstance(miss.value, str) and len(miss.value) <= 255
        if not valid:
            self.assert_body(body, Prediction("reject", "A14", detail=f"a {miss.kind} near miss of another type"))
            return
        prediction = self.model.predict_assert(self.key, body)
        if prediction.outcome == "update" and prediction.record is record:
            raise AssertionError("the model matched a near miss: strategies and model disagree")
        # A near miss that no record holds exactly must create (A3); one that another record holds
        # exactly is an ordinary update of that record.
        rule_name = "A3" if prediction.outcome == "create" else prediction.rule
        self.assert_body(body, replace(prediction, rule=rule_name))

    @rule(data=st.data())
    def assert_an_empty_or_missing_matching_value(self, data: st.DataObject) -> None:
        bad = data.draw(bad_matching_payloads(self.schema, self.key, **self.opts), label="body")
        self.assert_body(bad.body, Prediction("reject", "A7", detail=f"matching value {bad.kind}",
                                              part="A7-missing" if bad.kind == "missing" else None))

    @rule(data=st.data(), problem=st.sampled_from(["missing", "unknown", *sorted(SYSTEM_KEYS)]))
    def assert_with_a_bad_matching_attribute(self, data: st.DataObject, problem: str) -> None:
        body = data.draw(full_payloads(self.schema, self.key, **self.opts), label="body")
        params = {} if problem == "missing" else {
            "matchingAttribute": f"{self.subject.prefix}_no_such_attribute" if problem == "unknown" else problem}
        self.send("PUT", self.path, body, Prediction("reject", "A6", detail=f"matchingAttribute {problem}",
                                                     part="A6-status"), params)

    @rule(data=st.data())
    def take_another_records_unique_value(self, data: st.DataObject) -> None:
        pairs = [(attr.key, owner, other) for attr in self.schema.attributes
                 if attr.is_unique and attr.key != self.key and attr.supported
                 for owner in self.model.records for other in self.model.records
                 if owner is not other and other.values.get(attr.key) is not None]
        if not pairs:
            return
        unique_key, owner, other = data.draw(st.sampled_from(pairs), label="collision")
        body = {self.key: owner.values[self.key], unique_key: other.values[unique_key]}
        self.assert_body(body)

    @rule(data=st.data())
    def reassert_a_records_own_unique_value(self, data: st.DataObject) -> None:
        pairs = [(attr.key, record) for attr in self.schema.attributes if attr.is_unique and attr.supported
                 for record in self.model.records if record.values.get(attr.key) is not None]
        if not pairs:
            return
        unique_key, record = data.draw(st.sampled_from(pairs), label="own value")
        self.assert_body({self.key: record.values[self.key], unique_key: record.values[unique_key]})

    @precondition(lambda self: self.model.records)
    @rule(data=st.data())
    def create_a_duplicate_with_post(self, data: st.DataObject) -> None:
        if self.schema.attribute(self.key).is_unique:
            return
        record = self.pick(data)
        body = data.draw(partial_payloads(self.schema, self.key, keys=self.keys_of(record),
                                          **self.opts), label="body")
        self.send("POST", self.path, body, self.model.predict_create(body))

    @precondition(lambda self: self.model.records)
    @rule(data=st.data())
    def patch_a_record(self, data: st.DataObject) -> None:
        record = self.pick(data)
        body = data.draw(partial_payloads(self.schema, self.key, keys=self.keys_of(record),
                                          **self.opts), label="body")
        if data.draw(st.booleans(), label="leave out the matching value"):
            body.pop(self.key)
        self.send("PATCH", f"{self.path}/{record.id}", body, self.model.predict_update(record, body))

    @precondition(lambda self: self.model.records)
    @rule(data=st.data())
    def delete_a_record(self, data: st.DataObject) -> None:
        record = self.pick(data)
        response = self.api.delete(f"{self.path}/{record.id}")
        if response.status_code != 200:
            fail("section 5", f"DELETE of an existing record answered {response.status_code}", self.log)
        self.model.deleted(record)
        self.subject.forget(record.id)
        self.deleted_keys.append(record.values[self.key])
        self.deleted_ids.append(record.id)
        if (status := self.api.get(f"{self.path}/{record.id}").status_code) != 404:
            fail("section 5", f"GET of a deleted record answered {status}, expected 404", self.log)

    @precondition(lambda self: self.deleted_keys)
    @rule(data=st.data())
    def assert_the_key_of_a_deleted_record(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.deleted_keys), label="deleted key")
        body = data.draw(partial_payloads(self.schema, self.key, keys=st.just(key), **self.opts))
        prediction = self.model.predict_assert(self.key, body)
        self.assert_body(body, replace(prediction, rule="A12"))

    @rule(data=st.data())
    def assert_an_invalid_payload(self, data: st.DataObject) -> None:
        known = [record.values[self.key] for record in self.model.records]
        keys = st.sampled_from(known) if known and data.draw(st.booleans(), label="known key") else None
        try:
            invalid = invalid_payloads(self.schema, self.key, keys=keys, **self.opts)
        except ValueError:  # no attribute of this object has a rejection the profile checks
            return
        bad = data.draw(invalid, label="invalid")
        rule_name = "A14" if bad.key == self.key else "A10"
        self.assert_body(bad.body, Prediction("reject", rule_name,
                                              detail=f"{bad.key}: {bad.rejected.reason}"))

    # Invariant -------------------------------------------------------------------------------------------

    @invariant()
    def the_target_holds_what_the_model_holds(self) -> None:
        if self.subject.owned and self.subject.expect.holds("list"):
            self._compare_with_the_list()
        else:  # every record by id, read at once
            answers = self.api.read_all([f"{self.path}/{record.id}" for record in self.model.records])
            for record, response in zip(self.model.records, answers, strict=True):
                body = record_of(response, 200, "A10", self.log, self.schema.slug)
                record_agrees(body, record.values, self.schema, "A10", self.log, expect=self.subject.expect)

    def _compare_with_the_list(self) -> None:
        listed = self.subject.records("section 5", self.log)
        ids = [item.get("id") for item in listed]
        expected = [record.id for record in self.model.records]
        if ids != expected:
            lost = [i for i in expected if i not in ids]
            extra = [i for i in ids if i not in expected]
            fail("A10", f"the list holds {len(ids)} records, the model {len(expected)} (lost: {lost}, "
                 f"unexpected: {extra}, or not oldest first)", self.log)
        for item, record in zip(listed, self.model.records, strict=True):
            record_agrees(item, record.values, self.schema, "A10", self.log)
