/** The scheduler: one leader gateway hands each worker its next job at the last moment, fenced by assignments. */
package io.forgequeue.gateway.schedule;
