"""Read a Prometheus text exposition (a scrape of /metrics) in tests."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """One scrape: `value(name, **labels)` is the sum of the matching samples (0 when none)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    @classmethod
    def of(cls, url: str) -> Scrape:
        response = httpx.get(url, timeout=10)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return cls(response.text)

    def value(self, name: str, **labels: str) -> float:
        return sum(s.value for s in self.samples
                   if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))

    def label_values(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.samples if s.name == name and label in s.labels}
