"""Event Grid for localcloud: the system topic over the emulated ARM subscriptions, and a custom topic the app
publishes its CloudEvents to.

- System topic: every successful ARM write, delete or action becomes a
  `Microsoft.Resources.Resource{Write,Delete,Action}Success` event (EventGridEvent schema) when its operation
  completes; `SystemTopic` delivers it to the subscribed webhooks (validation handshake first, then at least once with
  retries). It lives in the ARM app (`localcloud.arm.create_app`), which serves its control API under
  `/localcloud/eventgrid` (see `control.py`).
- Custom topic (CloudEvents v1.0 input schema): its own HTTPS app (`custom_app.create_app`) serving
  `POST /api/events?api-version=2018-01-01` as the service does to `azure-eventgrid`'s `EventGridPublisherClient`
  with a managed identity's bearer token (`custom_topic.py`; every answer's wording and source: `wire.py`), recording
  every publish, failing on demand and delivering to webhooks in the CloudEvents schema (the CloudEvents
  abuse-protection handshake, then one event per POST with Event Grid's retries: `topic.py`). Control API under
  `/localcloud` (`custom_control.py`).
"""

from localcloud.eventgrid.custom_app import create_app, topic_resource_id
from localcloud.eventgrid.topic import EventSubscription, HandshakeError, SystemTopic, Topic

__all__ = ["EventSubscription", "HandshakeError", "SystemTopic", "Topic", "create_app", "topic_resource_id"]
