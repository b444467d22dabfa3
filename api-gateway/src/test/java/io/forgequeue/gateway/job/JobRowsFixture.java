package io.forgequeue.gateway.job;

import io.forgequeue.gateway.system.WireJson;

/** The job row mapper for tests outside this package that run statements without a Spring context. */
public final class JobRowsFixture {

    private JobRowsFixture() {
    }

    public static JobRows jobRows(WireJson json) {
        return new JobRows(json);
    }
}
