package dev.nettysync.demo;

/** The server's routes, as they appear in the {@code route} tag of the request metrics. */
enum Route {
    ITEM("/api/items/{id}"),
    LIVEZ("/livez"),
    READYZ("/readyz"),
    METRICS("/metrics"),
    /** Anything else: unknown paths and requests that could not be decoded. */
    OTHER("other");

    final String tag;

    Route(String tag) {
        this.tag = tag;
    }
}
