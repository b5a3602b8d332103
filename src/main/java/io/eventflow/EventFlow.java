package io.eventflow;

import org.apache.camel.main.Main;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Starts EventFlow: camel-main with the top-level application.properties and routes/. */
public final class EventFlow {

    private static final Logger LOG = LoggerFactory.getLogger(EventFlow.class);

    private EventFlow() {
    }

    /** A camel-main configured the way it runs in production; tests add override properties. */
    public static Main create() {
        Main main = new Main();
        main.setPropertyPlaceholderLocations("file:application.properties");
        // added as an instance: camel.main.configuration-classes would post-process it twice (two pools)
        // the web demo's configuration is added by EventFlowConfiguration, only when eventflow.demo.enabled
        main.configure().addConfiguration(new EventFlowConfiguration(main.configure()));
        return main;
    }

    public static void main(String[] args) throws Exception {
        int status;
        try {
            status = create().run(args);
        } catch (Exception | LinkageError e) {
            // what stops a start, in one line the operator can act on (the stack trace at debug level)
            StartupFailure failure = startupFailure(e);
            LOG.error("EventFlow could not start: {}", failure != null ? failure.getMessage() : ChangePublisher.rootMessage(e));
            LOG.debug("EventFlow could not start", e);
            status = 1;
        }
        System.exit(status);
    }

    private static StartupFailure startupFailure(Throwable e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            if (cause instanceof StartupFailure failure) {
                return failure;
            }
        }
        return null;
    }
}
