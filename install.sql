-- ChatHub addon schema. `__PREFIX__` is replaced with the site's table prefix (fa_ on a
-- stock FastAdmin install). Identical to the PHP addon's tables so either can run on them.

CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_tenant` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT COMMENT 'ID',
  `user_id` int(11) unsigned DEFAULT NULL COMMENT 'fa_user.id (创建者)',
  `tenant_name` varchar(100) NOT NULL DEFAULT '' COMMENT '租户名称',
  `domain` varchar(255) NOT NULL DEFAULT '' COMMENT '域名',
  `email` varchar(255) NOT NULL DEFAULT '' COMMENT 'Chatwoot登录邮箱',
  `inbox_id` int(11) DEFAULT NULL COMMENT 'Chatwoot Inbox ID',
  `inbox_token` varchar(100) DEFAULT NULL COMMENT 'Chatwoot Inbox Token',
  `team_id` int(11) DEFAULT NULL COMMENT 'Chatwoot Team ID',
  `agent_id` varchar(100) DEFAULT NULL COMMENT 'QwenPaw Agent ID',
  `agent_cw_id` int(11) DEFAULT NULL COMMENT 'Chatwoot Agent用户ID',
  `agent_cw_password` varchar(100) DEFAULT NULL COMMENT 'Chatwoot初始密码',
  `agent_name` varchar(100) DEFAULT NULL COMMENT 'QwenPaw Agent 名称',
  `max_agents` int(11) NOT NULL DEFAULT 3 COMMENT '最大坐席数',
  `channel_type` enum('web_widget','api','amazon','jd','taobao','pdd','tiktok') NOT NULL DEFAULT 'web_widget' COMMENT '通道类型',
  `status` enum('pending','provisioning','active','suspended','disabled') NOT NULL DEFAULT 'pending' COMMENT '状态',
  `config` text COMMENT '配置JSON',
  `embed_code` text COMMENT '嵌入代码',
  `api_credentials` text COMMENT 'API凭据JSON',
  `provisioned_at` datetime DEFAULT NULL COMMENT '开通时间',
  `expire_at` datetime DEFAULT NULL COMMENT '到期时间',
  `last_active_at` datetime DEFAULT NULL COMMENT '最后活跃时间',
  `createtime` int(10) DEFAULT NULL COMMENT '创建时间',
  `updatetime` int(10) DEFAULT NULL COMMENT '更新时间',
  PRIMARY KEY (`id`),
  KEY `idx_user_id` (`user_id`),
  KEY `idx_domain` (`domain`),
  KEY `idx_status` (`status`),
  KEY `idx_inbox_id` (`inbox_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub租户表';

CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_log` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT COMMENT 'ID',
  `tenant_id` int(11) unsigned NOT NULL DEFAULT 0 COMMENT '租户ID (0=系统级)',
  `action` varchar(50) NOT NULL DEFAULT '' COMMENT '操作类型 (register/renew/pay_notify_*/reprovision/...)',
  `detail` text COMMENT '操作详情',
  `status` enum('success','failed') NOT NULL DEFAULT 'success' COMMENT '状态',
  `operator` varchar(100) DEFAULT NULL COMMENT '操作人 (用户邮箱或system)',
  `createtime` int(10) DEFAULT NULL COMMENT '创建时间',
  PRIMARY KEY (`id`),
  KEY `idx_tenant_id` (`tenant_id`),
  KEY `idx_action` (`action`),
  KEY `idx_createtime` (`createtime` DESC, `id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub操作日志表';

CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_order` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT COMMENT 'ID',
  `order_no` varchar(50) NOT NULL COMMENT '订单号',
  `tenant_id` int(11) unsigned NOT NULL COMMENT '租户ID',
  `user_id` int(11) unsigned NOT NULL COMMENT '下单用户ID',
  `plan` varchar(20) NOT NULL COMMENT '方案 (basic/pro/enterprise)',
  `amount` decimal(10,2) NOT NULL COMMENT '金额',
  `pay_method` varchar(20) DEFAULT NULL COMMENT '支付方式 (alipay/wechat)',
  `pay_trade_no` varchar(100) DEFAULT NULL COMMENT '支付平台交易号',
  `status` enum('pending','paid','failed','refunded') NOT NULL DEFAULT 'pending' COMMENT '状态',
  `paid_at` datetime DEFAULT NULL COMMENT '支付完成时间',
  `expire_at` datetime DEFAULT NULL COMMENT '续期到期时间',
  `createtime` int(10) unsigned NOT NULL COMMENT '创建时间',
  `updatetime` int(10) unsigned DEFAULT NULL COMMENT '更新时间',
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_order_no` (`order_no`),
  KEY `idx_tenant_id` (`tenant_id`),
  KEY `idx_user_id` (`user_id`),
  KEY `idx_status` (`status`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub订单表';

CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_channel_account` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT COMMENT 'ID',
  `tenant_id` int(11) unsigned NOT NULL COMMENT '租户ID',
  `channel` enum('amazon','jd','taobao','pdd','tiktok') NOT NULL COMMENT '平台',
  `shop_id` varchar(100) DEFAULT NULL COMMENT '店铺ID',
  `shop_name` varchar(200) DEFAULT NULL COMMENT '店铺名称',
  `credentials_encrypted` varbinary(2048) NOT NULL COMMENT 'AES-256-GCM 加密凭据',
  `expires_at` datetime DEFAULT NULL COMMENT 'Access Token 过期时间',
  `status` enum('active','expired','error','paused') DEFAULT 'active' COMMENT '状态',
  `last_error` text COMMENT '最后一次错误',
  `last_refresh_at` datetime DEFAULT NULL COMMENT '上次刷新时间',
  `rate_limit_per_sec` int(10) unsigned DEFAULT 5 COMMENT '每秒请求上限',
  `createtime` int(10) DEFAULT NULL COMMENT '创建时间',
  `updatetime` int(10) DEFAULT NULL COMMENT '更新时间',
  PRIMARY KEY (`id`),
  KEY `idx_tenant_id` (`tenant_id`),
  KEY `idx_status` (`status`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub渠道账号表';

CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_gateway_log` (
  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT COMMENT 'ID',
  `tenant_id` int(11) unsigned NOT NULL COMMENT '租户ID',
  `channel` enum('amazon','jd','taobao','pdd','tiktok') NOT NULL COMMENT '平台',
  `query_hash` char(64) NOT NULL COMMENT '查询内容 SHA256',
  `status` enum('success','cache_hit','rate_limited','breaker_open','error','timeout','no_creds') NOT NULL COMMENT '调用结果',
  `latency_ms` int(10) unsigned DEFAULT NULL COMMENT '延迟(毫秒)',
  `error_msg` varchar(500) DEFAULT NULL COMMENT '错误信息',
  `createtime` int(10) DEFAULT NULL COMMENT '创建时间',
  PRIMARY KEY (`id`),
  KEY `idx_tenant_id` (`tenant_id`),
  KEY `idx_channel_status` (`channel`,`status`),
  KEY `idx_createtime` (`createtime`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub Gateway调用日志';

-- chathub's own tables: the PHP addon never reads them, so a rollback to it leaves them unused.

CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_session_revoked` (
  `id` char(64) NOT NULL COMMENT '已注销会话ID的SHA256',
  `user_id` int(11) unsigned NOT NULL COMMENT 'fa_user.id',
  `revoketime` int(10) unsigned NOT NULL COMMENT '注销时间',
  `expiretime` int(10) unsigned NOT NULL COMMENT '该会话本应过期的时间 (之后可删除)',
  PRIMARY KEY (`id`),
  KEY `idx_expiretime` (`expiretime`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub已注销的会员会话 (chathub)';

CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_login_throttle` (
  `id` char(64) NOT NULL COMMENT '账号或地址的SHA256',
  `failures` int(11) NOT NULL DEFAULT 0 COMMENT '失败次数',
  `window_start` int(11) NOT NULL DEFAULT 0 COMMENT '地址计数窗口开始',
  `next_at` int(11) NOT NULL DEFAULT 0 COMMENT '账号下次可尝试时间',
  `updatetime` int(11) NOT NULL DEFAULT 0 COMMENT '最后失败时间',
  PRIMARY KEY (`id`),
  KEY `idx_updatetime` (`updatetime`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub登录失败限流 (chathub)';

-- chathub's own (the PHP addon never reads it): when the provisioning worker may next try a
-- tenant, and the Idempotency-Key its next /provision call sends (MIGRATIONS.md provision-state).
CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_provision_state` (
  `tenant_id` int(11) unsigned NOT NULL COMMENT '租户ID',
  `failures` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '连续失败次数',
  `next_attempt_at` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '下次尝试时间',
  `idempotency_key` varchar(64) DEFAULT NULL COMMENT '下次调用的 Idempotency-Key',
  `lease_owner` varchar(32) DEFAULT NULL COMMENT '正在开通的实例',
  `lease_until` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '开通租约到期时间',
  `updatetime` int(10) unsigned DEFAULT NULL COMMENT '更新时间',
  PRIMARY KEY (`tenant_id`),
  KEY `idx_next_attempt_at` (`next_attempt_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub开通重试状态';

-- chathub's own (the PHP addon never reads it): each order sent to a payment gateway, its
-- deadline (`time_expire`), when the sweep asks the gateway next, and the lease of whoever is
-- asking right now (MIGRATIONS.md pay-query).
CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_pay_query` (
  `order_id` int(11) unsigned NOT NULL COMMENT '订单ID',
  `pay_method` varchar(20) NOT NULL COMMENT '发往的支付网关 (alipay/wechat)',
  `deadline` int(10) unsigned NOT NULL COMMENT '支付截止时间 (time_expire)',
  `queries` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '已查询次数',
  `next_query_at` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '下次查询时间',
  `claim_owner` varchar(32) DEFAULT NULL COMMENT '正在查询的实例',
  `claim_until` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '查询租约到期时间',
  `createtime` int(10) unsigned NOT NULL COMMENT '首次发往网关的时间',
  `updatetime` int(10) unsigned DEFAULT NULL COMMENT '最后查询时间',
  PRIMARY KEY (`order_id`,`pay_method`),
  KEY `idx_next_query_at` (`next_query_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub支付查询与关单计划 (chathub)';

-- chathub's own (the PHP addon never reads it): the payment gateways' certificates fetched at
-- run time (WeChat Pay platform certificates, Alipay certificates named by `alipay_cert_sn`),
-- shared by every instance, and per gateway one row with `serial_no` = '' that spaces the
-- downloads out (MIGRATIONS.md pay-cert).
CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_pay_cert` (
  `gateway` varchar(10) NOT NULL COMMENT '网关 (wechat/alipay)',
  `serial_no` varchar(100) NOT NULL COMMENT '证书序列号 (微信 serial_no / 支付宝 alipay_cert_sn), 空 = 下载记录',
  `cert_pem` mediumtext NOT NULL COMMENT '证书 (PEM, 支付宝含证书链)',
  `not_after` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '证书到期时间',
  `fetched_at` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '下载时间 (下载记录: 最后成功下载时间)',
  `attempt_at` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '下载记录: 最后尝试下载时间',
  PRIMARY KEY (`gateway`,`serial_no`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub支付网关证书缓存 (chathub)';

-- chathub's own (the PHP addon never reads it): why the worker suspended a tenant, a renewal
-- paid while it was suspended, and the lease and retry schedule of the worker's provision-server
-- call for it (MIGRATIONS.md lifecycle).
CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_lifecycle` (
  `tenant_id` int(11) unsigned NOT NULL COMMENT '租户ID',
  `suspended_for` varchar(16) DEFAULT NULL COMMENT '暂停原因: expiry = 到期未续费',
  `suspended_at` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '到期暂停时间',
  `paid_at` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '暂停期间续费时间',
  `failures` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '连续失败次数',
  `next_attempt_at` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '下次尝试时间',
  `lease_owner` varchar(32) DEFAULT NULL COMMENT '正在调用的实例',
  `lease_until` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '租约到期时间',
  `updatetime` int(10) unsigned DEFAULT NULL COMMENT '更新时间',
  PRIMARY KEY (`tenant_id`),
  KEY `idx_suspended_for` (`suspended_for`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub订阅生命周期 (chathub)';

-- chathub's own (the PHP addon never reads it): each refund of an order, its request number
-- (Alipay `out_request_no`, WeChat Pay `out_refund_no`, stored before the first call and sent
-- again on every retry), where it stands, and the lease of whoever is calling the gateway for
-- it right now (MIGRATIONS.md refunds).
CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_refund` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT COMMENT 'ID',
  `order_id` int(11) unsigned NOT NULL COMMENT '订单ID',
  `out_request_no` varchar(64) NOT NULL COMMENT '退款请求号 (out_request_no/out_refund_no)',
  `pay_method` varchar(20) NOT NULL COMMENT '支付网关 (alipay/wechat)',
  `amount` decimal(10,2) NOT NULL COMMENT '退款金额',
  `reason` varchar(80) NOT NULL DEFAULT '' COMMENT '退款原因',
  `take_days` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '收回的订阅天数',
  `status` varchar(16) NOT NULL DEFAULT 'pending' COMMENT 'pending=未确认送达 processing=处理中 success=已退款 failed=失败',
  `refund_no` varchar(64) DEFAULT NULL COMMENT '网关退款单号',
  `note` varchar(255) NOT NULL DEFAULT '' COMMENT '最近一次结果',
  `operator` varchar(50) NOT NULL DEFAULT '' COMMENT '操作人',
  `attempts` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '调用次数',
  `next_check_at` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '下次查询/重试时间',
  `claim_owner` varchar(32) DEFAULT NULL COMMENT '正在调用网关的实例',
  `claim_until` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '租约到期时间',
  `createtime` int(10) unsigned NOT NULL COMMENT '创建时间',
  `updatetime` int(10) unsigned DEFAULT NULL COMMENT '更新时间',
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_out_request_no` (`out_request_no`),
  KEY `idx_order_id` (`order_id`),
  KEY `idx_status_next` (`status`,`next_check_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub退款 (chathub)';

-- chathub's own (the PHP addon never reads it): the daily reconciliation of one gateway's
-- trade bill against the orders, one row per bill date and gateway (MIGRATIONS.md reconcile).
CREATE TABLE IF NOT EXISTS `__PREFIX__chathub_reconcile` (
  `bill_date` char(10) NOT NULL COMMENT '账单日期 (Y-m-d)',
  `pay_method` varchar(20) NOT NULL COMMENT '支付网关 (alipay/wechat)',
  `status` varchar(16) NOT NULL DEFAULT 'running' COMMENT 'running/done/failed',
  `matched` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '一致的记录数',
  `findings` mediumtext DEFAULT NULL COMMENT '差异 (JSON)',
  `claim_owner` varchar(32) DEFAULT NULL COMMENT '正在对账的实例',
  `claim_until` int(10) unsigned NOT NULL DEFAULT 0 COMMENT '租约到期时间',
  `updatetime` int(10) unsigned DEFAULT NULL COMMENT '更新时间',
  PRIMARY KEY (`bill_date`,`pay_method`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ChatHub对账 (chathub)';
