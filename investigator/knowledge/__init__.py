"""Fact tables the collectors and rules rely on (instance types, ...). Data only, no AWS calls."""

from investigator.knowledge.instance_types import INSTANCE_TYPES, InstanceType, instance_facts

__all__ = ["INSTANCE_TYPES", "InstanceType", "instance_facts"]
