package io.eventflow;

import java.util.Map;

/** {@link UnroutableEventsIT} with the web demo's stream off. */
class UnroutableEventsWithoutStreamIT extends UnroutableEventsIT {

    @Override
    protected Map<String, String> properties() {
        return Map.of("eventflow.stream.enabled", "false");
    }
}
