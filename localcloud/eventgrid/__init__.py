"""Event Grid for localcloud: a system topic over the emulated ARM subscriptions.

Every successful ARM write, delete or action becomes a `Microsoft.Resources.Resource{Write,Delete,Action}Success`
event (EventGridEvent schema) when its operation completes; `SystemTopic` delivers it to the subscribed webhooks
(validation handshake first, then at least once with retries). The topic lives in the ARM app
(`localcloud.arm.create_app`), which serves its control API under `/localcloud/eventgrid` (see `control.py`).
"""

from localcloud.eventgrid.topic import EventSubscription, HandshakeError, SystemTopic

__all__ = ["EventSubscription", "HandshakeError", "SystemTopic"]
