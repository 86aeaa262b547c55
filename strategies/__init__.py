"""Hypothesis strategies for the Zeeg CRM contract: values per attribute type, object schemas, payloads, keys.

Every strategy says in its docstring what it generates and how it shrinks. Nothing here knows any
particular server: schemas come from `object_schemas()` or from what a target returns
(`from_object_schema`).
"""

from __future__ import annotations

from .dispatch import (
    OPTION_TYPES,
    SUPPORTED_TYPES,
    TYPE_RULES,
    VALUE_STRATEGIES,
    TypeRules,
    ValueStrategies,
    accepted_values,
    documented_value,
    rejected_values,
    same_value,
)
from .keys import (
    NEAR_MISS_KINDS,
    NearMiss,
    matching_keys,
    near_miss_sets,
    near_miss_variants,
    run_id,
    run_number_base,
    worker_run_id,
)
from .payloads import (
    BadMatchingPayload,
    InvalidPayload,
    bad_matching_payloads,
    full_payloads,
    invalid_payloads,
    null_payloads,
    partial_payloads,
    value_strategy,
)
from .rejected import (
    Rejected,
    rejected_checkbox_values,
    rejected_date_values,
    rejected_datetime_values,
    rejected_multiselect_values,
    rejected_number_values,
    rejected_select_values,
    rejected_text_values,
)
from .schemas import (
    SYSTEM_KEYS,
    UNIQUE_TYPES,
    Attribute,
    AttributeDefinition,
    ObjectDefinition,
    ObjectSchema,
    attribute_definitions,
    from_object_schema,
    object_schemas,
    type_label,
    typed_attribute,
)
from .values import (
    MAX_NUMBER,
    MAX_TEXT,
    checkbox_values,
    date_values,
    datetime_values,
    multiselect_values,
    number_values,
    phone_number_values,
    select_values,
    text_values,
)

__all__ = [
    "MAX_NUMBER", "MAX_TEXT", "NEAR_MISS_KINDS", "OPTION_TYPES", "SUPPORTED_TYPES", "SYSTEM_KEYS", "TYPE_RULES",
    "UNIQUE_TYPES", "VALUE_STRATEGIES", "Attribute", "AttributeDefinition", "BadMatchingPayload", "InvalidPayload",
    "NearMiss", "ObjectDefinition", "ObjectSchema", "Rejected", "TypeRules", "ValueStrategies", "accepted_values",
    "attribute_definitions",
    "bad_matching_payloads", "checkbox_values", "date_values", "datetime_values", "documented_value",
    "from_object_schema",
    "full_payloads", "invalid_payloads", "matching_keys", "multiselect_values", "near_miss_sets", "near_miss_variants",
    "worker_run_id",
    "null_payloads", "number_values", "object_schemas", "partial_payloads", "phone_number_values",
    "rejected_checkbox_values", "rejected_date_values", "rejected_datetime_values", "rejected_multiselect_values",
    "rejected_number_values", "rejected_select_values", "rejected_text_values", "rejected_values", "run_id",
    "run_number_base", "same_value", "select_values", "text_values", "type_label", "typed_attribute", "value_strategy",
]
