/* The video wall: one tile per camera, grouped by hall; each visible tile plays its camera through
   the hub's relay over WebRTC (receive-only VP8, no STUN: intranet). Tiles off screen (or in a
   hidden browser tab) are paused: their session is closed, so an upstream nobody watches stops.
   Click a playing tile for one large view. Badges follow the agents' heartbeats (polled). */
(function () {
  'use strict';
  var XN = window.XN, data = XN.data, i18n = data.i18n;
  var PAUSE_AFTER_MS = 3000;     /* off screen this long: close the session */
  var POLL_MS = 5000;            /* badges and new cameras */
  var GATHER_MS = 3000;          /* ICE gathering (host candidates only: fast) */
  var NO_FRAME_MS = 4000;        /* connected but no new frame: say "waiting" */
  var tiles = {};
  var csrf = null;
  var large = null;              /* the tile shown large */
  var wallNode = document.getElementById('video-wall');

  function keyOf(cam) { return cam.agent_id + '/' + cam.camera_id; }

  function token() {
    if (csrf) { return Promise.resolve(csrf); }
    return XN.getJSON(data.me_url).then(function (me) { csrf = me.csrf_token; return csrf; });
  }

  function post(url, body, keepalive) {
    return token().then(function (t) {
      return fetch(url, {
        method: 'POST', credentials: 'same-origin', keepalive: !!keepalive,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': t },
        body: JSON.stringify(body)
      });
    }).then(function (r) {
      if (r.status === 401) { window.location.reload(); }
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) {
          var err = new Error(j.detail || ('HTTP ' + r.status));
          err.code = j.error || 'other';
          throw err;
        }
        return j;
      });
    });
  }

  function gathered(pc) {
    if (pc.iceGatheringState === 'complete') { return Promise.resolve(); }
    return new Promise(function (resolve) {
      var done = function () { if (pc.iceGatheringState === 'complete') { resolve(); } };
      pc.addEventListener('icegatheringstatechange', done);
      setTimeout(resolve, GATHER_MS);
    });
  }

  function preferVp8(transceiver) {
    if (!transceiver.setCodecPreferences || !window.RTCRtpReceiver || !RTCRtpReceiver.getCapabilities) { return; }
    var codecs = (RTCRtpReceiver.getCapabilities('video') || { codecs: [] }).codecs.filter(function (c) {
      return /video\/(vp8|rtx)/i.test(c.mimeType);
    });
    if (codecs.length) { try { transceiver.setCodecPreferences(codecs); } catch (e) { /* keep the defaults */ } }
  }

  /* ---- one tile ---------------------------------------------------------------------------- */

  function Tile(cam) {
    this.cam = cam;
    this.key = keyOf(cam);
    this.pc = null;
    this.viewerId = null;
    this.stream = null;
    this.visible = false;
    this.retries = 0;
    this.retryTimer = null;
    this.pauseTimer = null;
    this.frames = 0;
    this.lastFrameAt = 0;
    this.build();
    this.update(cam);
  }

  Tile.prototype.build = function () {
    var self = this;
    var node = this.node = XN.el('figure', 'video-tile');
    node.dataset.agent = this.cam.agent_id;
    node.dataset.camera = this.cam.camera_id;
    node.dataset.state = 'idle';
    node.dataset.frames = '0';
    node.tabIndex = 0;
    node.title = i18n.enlarge;
    var box = XN.el('div', 'video-box');
    var video = this.video = document.createElement('video');
    video.muted = true; video.autoplay = true; video.playsInline = true;
    box.appendChild(video);
    this.status = XN.el('div', 'video-status');
    box.appendChild(this.status);
    node.appendChild(box);
    var cap = XN.el('figcaption');
    this.title = XN.el('span', 'video-name');
    this.camId = XN.el('span', 'video-camera muted');
    this.badge = XN.el('span', 'badge');
    this.windows = XN.el('span', 'video-windows muted');
    this.viewers = XN.el('span', 'video-viewers muted');
    cap.appendChild(this.title); cap.appendChild(this.badge); cap.appendChild(this.camId); cap.appendChild(this.windows); cap.appendChild(this.viewers);
    node.appendChild(cap);
    node.addEventListener('click', function () { openLarge(self); });
    node.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openLarge(self); } });
    if (video.requestVideoFrameCallback) {
      var onFrame = function () { self.frame(); video.requestVideoFrameCallback(onFrame); };
      video.requestVideoFrameCallback(onFrame);
    } else {
      video.addEventListener('timeupdate', function () { self.frame(); });
    }
  };

  Tile.prototype.frame = function () {
    this.frames += 1;
    this.lastFrameAt = Date.now();
    this.node.dataset.frames = String(this.frames);
    if (this.node.dataset.state !== 'playing' && this.pc) { this.setState('playing', ''); this.retries = 0; }
  };

  /* Frames the browser decoded (a second source beside requestVideoFrameCallback, which Chromium
     does not call for a video it does not paint, e.g. one under the large view). */
  Tile.prototype.decoded = function () {
    var v = this.video;
    if (v.getVideoPlaybackQuality) { return v.getVideoPlaybackQuality().totalVideoFrames; }
    return Math.round((v.currentTime || 0) * 1000);
  };

  /* Playing = a session with frames arriving AND a live feed: a dead or frozen camera's tile plays
     the agent's black (or last) picture, which is not a camera being watched. */
  Tile.prototype.playing = function () {
    return !!this.pc && this.node.dataset.state === 'playing' && this.cam.state === 'ok';
  };

  Tile.prototype.update = function (cam) {
    var back = this.cam && this.cam.state === 'offline' && cam.state !== 'offline';
    this.cam = cam;
    this.title.textContent = cam.label || (cam.hall_id ? cam.hall_id + ' · ' + cam.camera_id : cam.camera_id);
    this.node.dataset.label = this.title.textContent;
    this.camId.textContent = cam.camera_id;
    this.badge.className = 'badge video-state-' + cam.state;
    this.badge.textContent = i18n.states[cam.state] || cam.state;
    this.badge.title = cam.reason || '';
    this.node.dataset.feed = cam.state;
    this.windows.textContent = cam.windows && cam.windows.length ? XN.fmt(i18n.windows, { windows: cam.windows.join(' ') }) : '';
    this.viewers.textContent = cam.viewers ? XN.fmt(i18n.viewers, { n: cam.viewers }) : '';
    if (large === this) { showLargeBadge(this); }
    if (back && this.retryTimer) {
      /* the agent is back (its heartbeat after an offline mark): ask again now, not at the end of the backoff */
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.retries = 0;
      this.start();
    }
  };

  Tile.prototype.setState = function (state, text) {
    var changed = this.node.dataset.state !== state;
    this.node.dataset.state = state;
    this.status.textContent = text || '';
    this.status.hidden = !text;
    if (changed) { summary(); }
  };

  Tile.prototype.wanted = function () {
    return (this.visible || large === this) && !document.hidden && this.cam.state !== 'offline';
  };

  Tile.prototype.start = function () {
    var self = this;
    if (this.pc || this.retryTimer || !this.wanted()) { return; }
    var pc = this.pc = new RTCPeerConnection({ iceServers: [] });
    this.setState('connecting', i18n.connecting);
    preferVp8(pc.addTransceiver('video', { direction: 'recvonly' }));
    pc.ontrack = function (e) {
      if (pc !== self.pc) { return; }
      self.stream = (e.streams && e.streams[0]) || new MediaStream([e.track]);
      self.video.srcObject = self.stream;
      self.video.play().catch(function () { /* muted autoplay is allowed; ignore */ });
      if (large === self) { document.getElementById('video-large-video').srcObject = self.stream; }
    };
    pc.onconnectionstatechange = function () {
      if (pc !== self.pc) { return; }
      if (pc.connectionState === 'failed') {
        self.fail({ code: 'connection' });
      } else if (pc.connectionState === 'disconnected') {
        setTimeout(function () { if (pc === self.pc && pc.connectionState === 'disconnected') { self.fail({ code: 'connection' }); } }, 5000);
      }
    };
    pc.createOffer()
      .then(function (offer) { return pc.setLocalDescription(offer); })
      .then(function () { return gathered(pc); })
      .then(function () {
        return post(data.watch_url, { agent_id: self.cam.agent_id, camera_id: self.cam.camera_id,
                                      type: 'offer', sdp: pc.localDescription.sdp });
      })
      .then(function (answer) {
        if (pc !== self.pc) { leave(answer.viewer_id); return null; }
        self.viewerId = answer.viewer_id;
        self.node.dataset.viewer = answer.viewer_id;
        self.setState('connecting', i18n.waiting);
        return pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
      })
      .catch(function (err) { if (pc === self.pc) { self.fail(err); } });
  };

  Tile.prototype.stop = function (state, text) {
    var pc = this.pc;
    this.pc = null;
    if (pc) { pc.close(); }
    if (this.viewerId) { leave(this.viewerId); this.viewerId = null; }
    delete this.node.dataset.viewer;
    this.stream = null;
    this.video.srcObject = null;
    this.setState(state || 'paused', text === undefined ? i18n.paused : text);
  };

  Tile.prototype.fail = function (err) {
    var self = this;
    var code = (err && err.code) || 'other';
    var message = i18n.errors[code] || i18n.errors.other;
    this.stop('error', message);
    var delay = Math.min(30, 5 * Math.pow(2, this.retries));
    this.retries += 1;
    this.status.textContent = message + ' — ' + XN.fmt(i18n.retry_in, { seconds: delay });
    this.retryTimer = setTimeout(function () { self.retryTimer = null; self.start(); }, delay * 1000);
  };

  Tile.prototype.show = function (visible) {
    var self = this;
    this.visible = visible;
    if (visible) {
      if (this.pauseTimer) { clearTimeout(this.pauseTimer); this.pauseTimer = null; }
      this.start();
    } else if (this.pc && !this.pauseTimer) {
      this.pauseTimer = setTimeout(function () {
        self.pauseTimer = null;
        if (!self.wanted() && self.pc) { self.stop('paused', i18n.paused); }
      }, PAUSE_AFTER_MS);
    }
  };

  Tile.prototype.check = function () {
    if (this.pc) {
      var decoded = this.decoded();
      if (decoded > (this.lastDecoded || 0)) {
        this.lastDecoded = decoded;
        if (this.video.srcObject && this.video.readyState >= 2) { this.frame(); }
      }
    } else {
      this.lastDecoded = 0;
    }
    /* connected, but no frame for a while: say so (the badge says why, if the agent knows) */
    if (this.pc && this.node.dataset.state === 'playing' && Date.now() - this.lastFrameAt > NO_FRAME_MS) {
      this.setState('connecting', i18n.waiting);
    }
    if (!this.wanted() && this.pc && !this.pauseTimer) { this.show(false); }
    if (this.wanted() && !this.pc) { this.start(); }
  };

  function leave(viewerId) {
    post(data.leave_url, { viewer_id: viewerId }, true).catch(function () { /* the relay drops it anyway */ });
  }

  /* ---- the large view ---------------------------------------------------------------------- */

  function showLargeBadge(tile) {
    var badge = document.getElementById('video-large-badge');
    badge.className = 'badge video-state-' + tile.cam.state;
    badge.textContent = i18n.states[tile.cam.state] || tile.cam.state;
  }

  function openLarge(tile) {
    large = tile;
    var box = document.getElementById('video-large');
    document.getElementById('video-large-title').textContent = tile.title.textContent;
    showLargeBadge(tile);
    var video = document.getElementById('video-large-video');
    video.srcObject = tile.stream;
    if (tile.stream) { video.play().catch(function () {}); }
    box.hidden = false;
    tile.start();
    document.getElementById('video-large-close').focus();
  }

  function closeLarge() {
    var tile = large;
    large = null;
    document.getElementById('video-large').hidden = true;
    document.getElementById('video-large-video').srcObject = null;
    if (tile) { tile.check(); tile.node.focus(); }
  }

  document.getElementById('video-large-close').addEventListener('click', closeLarge);
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape' && large) { closeLarge(); } });

  /* ---- the wall ---------------------------------------------------------------------------- */

  var observer = 'IntersectionObserver' in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      var tile = tiles[entry.target.dataset.agent + '/' + entry.target.dataset.camera];
      if (tile) { tile.show(entry.isIntersecting); }
    });
  }, { threshold: 0.1 }) : null;

  function render(wall) {
    var seen = {};
    var halls = wall.halls || [];
    halls.forEach(function (hall) {
      var id = 'video-hall-' + hall.site_id;
      var section = document.getElementById(id);
      if (!section) {
        section = XN.el('section', 'video-hall');
        section.id = id;
        section.appendChild(XN.el('h2', '', hall.name));
        section.appendChild(XN.el('div', 'video-grid'));
        wallNode.appendChild(section);
      }
      var grid = section.querySelector('.video-grid');
      hall.cameras.forEach(function (cam) {
        var key = keyOf(cam);
        seen[key] = true;
        var tile = tiles[key];
        if (!tile) {
          tile = tiles[key] = new Tile(cam);
          grid.appendChild(tile.node);
          if (observer) { observer.observe(tile.node); } else { tile.show(true); }
        } else {
          tile.update(cam);
        }
      });
    });
    Object.keys(tiles).forEach(function (key) {
      if (!seen[key]) {
        var tile = tiles[key];
        if (large === tile) { closeLarge(); }
        tile.stop('idle', '');
        if (observer) { observer.unobserve(tile.node); }
        tile.node.remove();
        delete tiles[key];
      }
    });
    document.getElementById('video-empty').hidden = halls.length > 0;
    summary();
  }

  /* The header: halls and cameras of the last poll, and the tiles that play now (a session and
     frames within NO_FRAME_MS); recomputed whenever a tile's state changes. */
  function summary() {
    var halls = (current && current.halls) || [];
    var cameras = 0, playing = 0;
    halls.forEach(function (h) { cameras += h.cameras.length; });
    Object.keys(tiles).forEach(function (k) { if (tiles[k].playing()) { playing += 1; } });
    var node = document.getElementById('video-summary');
    node.dataset.playing = String(playing);
    node.textContent = XN.fmt(i18n.summary, { halls: halls.length, cameras: cameras, playing: playing });
  }

  var current = data.wall;
  render(current);

  setInterval(function () {
    XN.getJSON(data.cameras_url).then(function (wall) { current = wall; render(wall); }).catch(function () {});
  }, POLL_MS);
  setInterval(function () {
    Object.keys(tiles).forEach(function (k) { tiles[k].check(); });
    summary();
  }, 1000);

  document.addEventListener('visibilitychange', function () {
    Object.keys(tiles).forEach(function (k) {
      var tile = tiles[k];
      if (document.hidden) { if (tile.pc) { tile.stop('paused', i18n.paused); } } else { tile.check(); }
    });
  });
  window.addEventListener('pagehide', function () {
    Object.keys(tiles).forEach(function (k) { tiles[k].stop('idle', ''); });
  });
})();
