// Starts the telegram-test-api 4.2.1 Bot API emulator on 127.0.0.1:PORT, adjusted at run time
// (node_modules untouched) where it differs from what python-telegram-bot 22 expects:
//  1. getMe gains is_bot;                        2. message dates in seconds, not milliseconds;
//  3. callback queries gain chat_instance;        4. edits return the edited message;
//  5. getUpdates honours offset and long-polls;   6. methods it lacks answer ok (sendDocument...);
//  7. webhook delivery is retried until the bot answers, with the secret token header;
//  8. a message whose text is edited reaches the user's chat again (the user API's getUpdates
//     gives it anew, same message id), as a Telegram client shows the change.
// Also: `POST /failNext {method, status, body}` makes the next call of a method fail (429, 403...);
// `POST /stallNext {method}` holds the next call of a method unanswered and undelivered (the bot
// is then killed while it waits: a step saved and its reply never sent); `POST /stalled` counts them.
// Usage: node emulator.js PORT   (prints "ready PORT" when listening)
'use strict';

const axios = require('axios');
const express = require('express');
const { routes } = require('telegram-test-api/lib/routes/index');
const { TelegramServer } = require('telegram-test-api/lib/telegramServer');

const port = Number(process.argv[2] || 9000);
const seconds = (ms) => Math.floor(ms / 1000);
const failures = {};  // method -> [{status, body}]
const stalls = {};    // method -> how many next calls to hold
let stalled = 0;      // calls held so far

function botMessageJson(server, stored) {
  const m = stored.message;
  const out = {
    message_id: stored.messageId,
    date: seconds(stored.time),
    chat: { id: Number(m.chat_id), type: Number(m.chat_id) < 0 ? 'supergroup' : 'private', first_name: 'Chat' },
    from: { id: 666, is_bot: true, first_name: 'Test First name', username: 'TestNameBot' },
    text: m.text,
  };
  if (m.reply_markup && m.reply_markup.inline_keyboard) out.reply_markup = { inline_keyboard: m.reply_markup.inline_keyboard };
  if (m.document) out.document = m.document;
  if (m.caption) out.caption = m.caption;
  return out;
}

function readMultipart(req) {
  // sendDocument arrives as multipart/form-data: keep the text fields and the file's name and content.
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const boundary = (req.headers['content-type'] || '').split('boundary=')[1];
      const fields = {};
      if (boundary) {
        for (const part of raw.split(`--${boundary}`)) {
          const name = /name="([^"]+)"/.exec(part);
          if (!name) continue;
          const filename = /filename="([^"]*)"/.exec(part);
          const body = part.split('\r\n\r\n').slice(1).join('\r\n\r\n').replace(/\r\n$/, '');
          fields[name[1]] = filename ? { file_name: filename[1], content: body } : body;
        }
      }
      resolve(fields);
    });
  });
}

const extraRoutes = (app, server) => {
  app.use(express.json());
  app.post('/failNext', (req, res) => {
    (failures[req.body.method] = failures[req.body.method] || []).push(req.body);
    res.json({ ok: true, result: true });
  });
  app.post('/stallNext', (req, res) => {
    stalls[req.body.method] = (stalls[req.body.method] || 0) + 1;
    res.json({ ok: true, result: true });
  });
  app.post('/stalled', (req, res) => res.json({ ok: true, result: stalled }));
  // Injected stalls and failures (429 with retry_after, 403 blocked...), then the real handlers.
  app.all('/bot:token/:method', (req, res, next) => {
    if (stalls[req.params.method]) {
      stalls[req.params.method] -= 1;
      stalled += 1;
      return;  // never answered, never delivered: the caller waits until it dies
    }
    const queue = failures[req.params.method];
    if (queue && queue.length) {
      const f = queue.shift();
      res.status(f.status).json(f.body);
      return;
    }
    next();
  });
  app.all('/bot:token/getMe', (req, res) => res.json({ ok: true, result: {
    id: 666, is_bot: true, first_name: 'Test First name', username: 'TestNameBot',
    can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false,
  } }));
  app.all('/bot:token/sendMessage', (req, res) => {
    server.addBotMessage(req.body, req.params.token);
    const stored = server.storage.botMessages[server.storage.botMessages.length - 1];
    res.json({ ok: true, result: botMessageJson(server, stored) });
  });
  app.all('/bot:token/sendDocument', async (req, res) => {
    const fields = await readMultipart(req);
    const doc = fields.document || {};
    server.addBotMessage({ chat_id: fields.chat_id, text: fields.caption || '', caption: fields.caption,
      document: { file_id: `doc${Date.now()}`, file_unique_id: `u${Date.now()}`, file_name: doc.file_name,
        content: doc.content } }, req.params.token);
    const stored = server.storage.botMessages[server.storage.botMessages.length - 1];
    res.json({ ok: true, result: botMessageJson(server, stored) });
  });
  for (const method of ['editMessageText', 'editMessageReplyMarkup']) {
    app.all(`/bot:token/${method}`, (req, res) => {
      const body = TelegramServer.normalizeMessage(req.body);
      const stored = server.storage.botMessages.find((u) => String(u.messageId) === String(body.message_id)
        && String(u.message.chat_id) === String(body.chat_id));
      if (!stored) {
        res.status(400).json({ ok: false, error_code: 400, description: 'Bad Request: message to edit not found' });
        return;
      }
      if (!body.reply_markup) body.reply_markup = {};  // no markup given: the buttons go
      stored.message = { ...stored.message, ...body };
      if (method === 'editMessageText') stored.isRead = false;  // the chat sees the new text (8.)
      server.emit('EditedMessageText');
      res.json({ ok: true, result: botMessageJson(server, stored) });
    });
  }
  app.all('/bot:token/getUpdates', async (req, res) => {
    const token = req.params.token;
    const params = { ...req.query, ...req.body };
    const offset = Number(params.offset || 0);
    const timeout = Math.min(Number(params.timeout || 0), 10);
    // Confirmed updates (below offset) are forgotten; the others stay until confirmed, as in Telegram.
    server.storage.userMessages = server.storage.userMessages.filter((u) => u.botToken !== token || u.updateId >= offset);
    const pending = () => server.storage.userMessages.filter((u) => u.botToken === token);
    let found = pending();
    if (!found.length && timeout > 0) {
      await new Promise((resolve) => {
        const done = () => { clearTimeout(timer); server.off('AddedUserUpdate', done); resolve(); };
        const timer = setTimeout(done, timeout * 1000);
        server.on('AddedUserUpdate', done);
      });
      found = pending();
    }
    res.json({ ok: true, result: found.map((u) => TelegramServer.formatUpdate(u)) });
  });
  app.all('/bot:token/setWebhook', (req, res) => {
    const params = { ...req.query, ...req.body };
    server.setWebhook({ url: params.url, secret_token: params.secret_token }, req.params.token);
    res.json({ ok: true, result: true });
  });
  app.all('/bot:token/getWebhookInfo', (req, res) => {
    const hook = server.webhooks[req.params.token];
    res.json({ ok: true, result: { url: hook ? hook.url : '', has_custom_certificate: false, pending_update_count: 0 } });
  });
  for (const method of ['setMyCommands', 'deleteMyCommands', 'sendChatAction', 'answerCallbackQuery',
    'answerInlineQuery', 'close', 'logOut', 'setChatMenuButton', 'deleteWebhook']) {
    app.all(`/bot:token/${method}`, (req, res) => {
      if (method === 'deleteWebhook') server.deleteWebhook(req.params.token);
      res.json({ ok: true, result: true });
    });
  }
  app.all('/bot:token/getChat', (req, res) => res.json({ ok: true, result: {
    id: Number((req.body || {}).chat_id || req.query.chat_id), type: 'private' } }));
};
routes.unshift(extraRoutes);

// 2 and 3: user updates as python-telegram-bot expects them.
const formatUpdate = TelegramServer.formatUpdate;
TelegramServer.formatUpdate = (update) => {
  const out = formatUpdate(update);
  if (out.callback_query) {
    out.callback_query.chat_instance = out.callback_query.chat_instance || `ci${out.callback_query.from.id}`;
  }
  for (const m of [out.message, out.callback_query && out.callback_query.message]) {
    if (m && m.date > 1e11) m.date = seconds(m.date);
    if (m) delete m.botToken;
  }
  return out;
};

// 7: webhook delivery that survives a bot that is down, and sends the secret token.
TelegramServer.prototype.addUserUpdate = async function addUserUpdate(update) {
  this.updateId++;
  if (!this.webhooks[update.botToken]) {
    this.storage.userMessages.push(update);
    this.emit('AddedUserUpdate');
    return;
  }
  const body = TelegramServer.formatUpdate(update);
  for (let attempt = 0; attempt < 600; attempt++) {
    const webhook = this.webhooks[update.botToken];  // re-read: a restarted bot may set a new one
    if (!webhook) {
      this.storage.userMessages.push(update);
      this.emit('AddedUserUpdate');
      return;
    }
    const headers = webhook.secret_token ? { 'X-Telegram-Bot-Api-Secret-Token': webhook.secret_token } : {};
    try {
      const resp = await axios({ url: webhook.url, method: 'POST', data: body, headers, timeout: 5000 });
      if (resp.status < 300) return;
    } catch (err) {
      // down or refused: Telegram retries too
    }
    await new Promise((r) => setTimeout(r, 200));
  }
};

const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 3600 });
server.start().then(() => {
  process.stdout.write(`ready ${port}\n`);
});
process.on('unhandledRejection', (err) => process.stderr.write(`emulator: ${err}\n`));
