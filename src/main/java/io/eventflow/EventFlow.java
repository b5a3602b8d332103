package io.eventflow;

import io.eventflow.web.WebConfiguration;
import org.apache.camel.main.Main;

/** Starts EventFlow: camel-main with the top-level application.properties and routes/. */
public final class EventFlow {

    private EventFlow() {
    }

    /** A camel-main configured the way it runs in production; tests add override properties. */
    public static Main create() {
        Main main = new Main();
        main.setPropertyPlaceholderLocations("file:application.properties");
        // added as an instance: camel.main.configuration-classes would post-process it twice (two pools)
        main.configure().addConfiguration(new EventFlowConfiguration());
        main.configure().addConfiguration(new WebConfiguration());
        return main;
    }

    public static void main(String[] args) throws Exception {
        System.exit(create().run(args));
    }
}
