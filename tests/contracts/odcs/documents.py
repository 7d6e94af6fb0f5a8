"""ODCS documents and small helpers shared by the ODCS import tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from contracts.odcs.report import ImportReport
from contracts.spec import ContractSpec

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "impressions.odcs.yaml"

ORDERS_V30 = """
apiVersion: v3.0.2
kind: DataContract
id: Orders Latest
name: Orders
version: "1.0"
status: active
domain: sales
dataProduct: orders-dp
tenant: acme
description:
  purpose: Orders placed in the web shop.
  usage: Revenue reporting.
team:
  - username: jdoe
    role: Data Scientist
  - username: mroe
    role: Data Owner
    dateIn: "2024-01-01"
servers:
  - server: prod
    type: postgres
    host: db.internal
    port: 5432
    database: shop
    schema: public
schema:
  - name: orders
    physicalName: orders_v2
    physicalType: table
    description: One row per order.
    properties:
      - name: order_id
        logicalType: string
        physicalType: varchar(36)
        primaryKey: true
        primaryKeyPosition: 1
        logicalTypeOptions: {minLength: 36, maxLength: 36, format: uuid}
      - name: customer_email
        logicalType: string
        classification: confidential
        criticalDataElement: true
        logicalTypeOptions: {pattern: "^[^@]+@[^@]+$"}
      - name: amount
        logicalType: number
        required: true
        logicalTypeOptions: {minimum: 0, exclusiveMinimum: true, maximum: 100000}
      - name: quantity
        logicalType: integer
        logicalTypeOptions: {minimum: 0, exclusiveMinimum: true, maximum: 1000}
      - name: status
        logicalType: string
        required: true
        quality:
          - rule: validValues
            validValues: [placed, shipped, cancelled]
      - name: coupon_code
        logicalType: string
        quality:
          - rule: nullCheck
            mustBeLessThan: 80
            unit: percent
            name: coupon_mostly_empty
      - name: placed_at
        logicalType: date
        physicalType: timestamp
        required: true
      - name: order_date
        logicalType: date
        logicalTypeOptions: {minimum: "2020-01-01"}
      - name: is_gift
        logicalType: boolean
        examples: [true, false]
      - name: shipping_address
        logicalType: object
      - name: line_items
        logicalType: array
    quality:
      - rule: rowCount
        mustBeBetween: [100, 1000000]
        severity: error
      - type: sql
        query: SELECT COUNT(*) FROM orders_v2 WHERE amount < 0
        mustBe: 0
      - type: text
        description: Orders are never deleted.
      - type: custom
        engine: soda
        implementation: "type: duplicate_percent"
slaDefaultElement: orders_v2.placed_at
slaProperties:
  - property: latency
    value: 6
    unit: hours
  - property: frequency
    value: 1
    unit: d
  - property: retention
    value: 7
    unit: y
"""


def orders() -> dict[str, Any]:
    return yaml.safe_load(ORDERS_V30)


def minimal(**top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": "events",
        "version": "1.0.0",
        "status": "active",
        "team": {"name": "data-platform"},
        "schema": [
            {
                "name": "events",
                "properties": [
                    {"name": "event_id", "logicalType": "string", "required": True},
                    {"name": "ts", "logicalType": "timestamp"},
                ],
            }
        ],
    }
    doc.update(top)
    return doc


def with_property(prop: dict[str, Any], **top: Any) -> dict[str, Any]:
    doc = minimal(**top)
    doc["schema"][0]["properties"].append(prop)
    return doc


def ignored_by_path(report: ImportReport) -> dict[str, str]:
    return {entry["path"]: entry["reason"] for entry in report.ignored}


def field_of(spec: ContractSpec, name: str) -> Any:
    found = spec.field(name)
    assert found is not None, name
    return found
