package io.forgequeue.gateway.job;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/**
 * Description of one stored result image (the bytes are in {@code job_image}).
 *
 * @param index    position in the job's result, from 0
 * @param mimeType e.g. {@code image/png}
 * @param width    pixels, 0 when unknown
 * @param height   pixels, 0 when unknown
 * @param seed     seed the image was generated with
 * @param etag     strong validator of the bytes (hex SHA-256 prefix)
 * @param bytes    size in bytes
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ImageInfo(int index, String mimeType, int width, int height, long seed, String etag, int bytes) {}
