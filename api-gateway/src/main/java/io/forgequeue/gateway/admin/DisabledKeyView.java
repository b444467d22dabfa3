package io.forgequeue.gateway.admin;

/**
 * Answer to disabling a key.
 *
 * @param key           the key, now disabled
 * @param cancelledJobs how many of its waiting jobs were cancelled (0 unless {@code cancelQueued=true})
 */
record DisabledKeyView(KeyView key, int cancelledJobs) {}
