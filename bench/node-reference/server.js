// Reference Node.js Socket.IO server that eventrouter replaces.
// Used only as a benchmark baseline; behaviour is intentionally kept as-is.
const express = require("express");
const http = require("http");
const cors = require("cors");
const { Server } = require("socket.io");

const PORT = process.env.PORT || 3000;

const app = express();
app.use(cors());
app.use(express.json());

const server = http.createServer(app);
const io = new Server(server, {
  cors: {
    origin: "*",
    methods: ["GET", "POST"],
  },
});

io.on("connection", (socket) => {
  console.log("client connected:", socket.id);

  socket.on("send_message", (data) => {
    console.log("受信メッセージ:", data);
    io.emit("receive_message", data);
  });

  socket.on("disconnect", () => {
    console.log("client disconnected:", socket.id);
  });
});

app.post("/post", (req, res) => {
  console.log("POST受信:", req.body);
  res.json({ message: "受け取りました", received: req.body });
});

server.listen(PORT, () => {
  console.log(`server listening on port ${PORT}`);
});
