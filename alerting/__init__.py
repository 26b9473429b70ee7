"""Alerts: spikes pushed to webhooks and Slack, recorded once and delivered at least once."""

from alerting.settings import AlertSettings, DeliverySettings, TargetSettings, load_alert_settings, target_urls

__all__ = ["AlertSettings", "DeliverySettings", "TargetSettings", "load_alert_settings", "target_urls"]
