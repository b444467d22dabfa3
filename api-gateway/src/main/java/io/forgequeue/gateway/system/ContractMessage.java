package io.forgequeue.gateway.system;

import io.forgequeue.model.Contract;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.amqp.core.MessageProperties;

/** Messages as the wire contract prescribes them: JSON, UTF-8, the contract version header, an id. */
public final class ContractMessage {

    private ContractMessage() {}

    /** A persistent contract message with {@code messageId}. */
    public static Message persistent(byte[] body, String messageId) {
        return of(body, messageId, MessageDeliveryMode.PERSISTENT);
    }

    /** A contract message with {@code messageId} and the given delivery mode. */
    public static Message of(byte[] body, String messageId, MessageDeliveryMode mode) {
        MessageProperties props = new MessageProperties();
        props.setContentType(Contract.CONTENT_TYPE);
        props.setContentEncoding("UTF-8");
        props.setDeliveryMode(mode);
        props.setMessageId(messageId);
        props.setHeader(Contract.VERSION_HEADER, Contract.VERSION);
        return new Message(body, props);
    }
}
