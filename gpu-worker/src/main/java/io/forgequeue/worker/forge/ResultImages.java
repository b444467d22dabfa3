package io.forgequeue.worker.forge;

import io.forgequeue.model.GeneratedImage;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns txt2img's {@code images} into the job's result (forge-api.md §4, §11.6). Pure.
 *
 * <ul>
 *   <li>generated images start at {@code info.index_of_first_image} (a grid may come first);</li>
 *   <li>at most {@code batch_size} are taken: anything after them is Forge's {@code extra_images} (detection
 *       maps and the like) and is ignored;</li>
 *   <li>fewer may come back (an interrupt): each is paired with {@code all_seeds[i]}, which lists every PLANNED
 *       image;</li>
 *   <li>images are bare base64 (a {@code data:} prefix is tolerated); the type is read from the magic bytes;</li>
 *   <li>an empty or undecodable entry is skipped (logged), so the caller sees fewer images.</li>
 * </ul>
 */
final class ResultImages {

    private static final Logger log = LoggerFactory.getLogger(ResultImages.class);

    private ResultImages() {}

    static List<GeneratedImage> pair(List<String> images, ForgeInfo info, int batchSize, long requestedSeed) {
        List<GeneratedImage> out = new ArrayList<>();
        if (images == null || images.isEmpty()) {
            return out;
        }
        int first = Math.min(info.indexOfFirstImage(), images.size());
        for (int i = 0; i < batchSize && first + i < images.size(); i++) {
            byte[] bytes = decode(images.get(first + i));
            if (bytes == null || bytes.length == 0) {
                log.warn("Forge image {} is empty or not base64; skipped", first + i);
                continue;
            }
            ImageFormat format = ImageFormat.detect(bytes);
            out.add(new GeneratedImage(
                    out.size(),
                    info.seedOf(i, requestedSeed),
                    format.mimeType(),
                    format.width(),
                    format.height(),
                    bytes));
        }
        return out;
    }

    /** Bare base64, or a data URI; null when not base64. */
    static byte[] decode(String text) {
        if (text == null) {
            return null;
        }
        String s = text;
        if (s.startsWith("data:")) {
            int comma = s.indexOf(',');
            s = comma < 0 ? "" : s.substring(comma + 1);
        }
        try {
            return Base64.getMimeDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
